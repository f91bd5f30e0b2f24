/**
 * The runtime entry point (`dagwright/runtime`): the pieces below `runFlow`,
 * for tools built on dagwright: the graph, scheduler events, logging,
 * long-running services, task classes found by family, bulk completeness.
 */
export { TaskGraph } from '../graph';
export type { TaskRecord, TaskStatus, SchedulerEvent } from '../scheduler';
export { formatSummary } from '../summary';
export { createLogger, type LogLevel, type LoggerOptions } from '../logger';
export { runInForeground, type Service, type ServiceHealth } from '../services/service';
export { registerTaskClasses } from '../task';
export { taskContext, type TaskContextBase } from '../task-context';
export { RequirementsPending } from '../dynamic-requirements';
export { bulkComplete } from '../bulk-complete';
