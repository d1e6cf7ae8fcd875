export * from './cluster-config.model';
export { loadClusterConfig, parseClusterConfig } from './cluster-config.parser';
export * from './zone-resolution';
export * from './change-scope';
export * from './cluster-config.source';
