export * from './strict-fake';
