// The vocabulary of the external contract (CONTRACT.md: Job and Run), shared by the server and the dashboard.
export {};
