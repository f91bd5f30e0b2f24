export { executePlan } from './dispatcher';
export type { ExecuteOptions, SchedulerEvent, TaskRecord, TaskStatus } from './types';
