export * from './cluster-config.model';
export { loadClusterConfig, parseClusterConfig } from './cluster-config.parser';
export * from './zone-resolution';
export * from './cluster-config.source';
