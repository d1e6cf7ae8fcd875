export * from './model';
export * from './names';
export * from './merge-patch';
export * from './canonical-json';
export * from './digest';
export * from './directory-view';
export * from './rules';
export * from './batch';
