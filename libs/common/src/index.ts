// Small helpers every app and lib shares (back-off, deadlines, logging): one copy of each.
export {};
