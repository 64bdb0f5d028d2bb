export * from './executor-directory';
export * from './static-directory';
export * from './registration';
export * from './etcd-registration';
export * from './etcd-prefix-cache';
export * from './etcd-directory';
export * from './etcd-health';
