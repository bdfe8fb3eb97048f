// Filled in by its owner; registered from src/ops/index.ts.
export {};
