import type { ParamSpecs, ValuesOf } from '../params';
import { type AnyTask, Task, type TaskClass } from '../task';

/** Flow-wide settings every flow gets from the standard options. */
export interface FlowContext {
  /** Where outputs go: a local folder (absolute path) or an `s3://bucket/prefix` URI; `--store`. */
  readonly store: string;
}

/** A runnable flow: its own parameters and the root tasks they make. */
export interface FlowDefinition<S extends ParamSpecs = ParamSpecs> {
  /** Used in help, logs, locks and history; default: the script's file name. */
  readonly name?: string;
  readonly description?: string;
  readonly params: S;
  roots(params: ValuesOf<S>, context: FlowContext): AnyTask | readonly AnyTask[];
  /** Capacities of the concurrency pools its tasks declare (`{ gpu: 1 }`); `--pool name=N` overrides one. */
  readonly pools?: Readonly<Record<string, number>>;
  /** At most this many tasks of a family at once (`{ TrainModel: 1 }`); `--family-limit` overrides one. */
  readonly familyLimits?: Readonly<Record<string, number>>;
}

/**
 * A task class is a flow of one root whose parameters are the flow's; a
 * `store` parameter is not an option of its own but gets `--store`.
 */
export function asFlow(flow: FlowDefinition | TaskClass): FlowDefinition {
  if (typeof flow === 'function' && flow.prototype instanceof Task) {
    const cls = flow as TaskClass;
    const takesStore = 'store' in cls.params;
    const params = Object.fromEntries(Object.entries(cls.params).filter(([name]) => !(takesStore && name === 'store')));
    return {
      name: cls.family ?? cls.name,
      params,
      roots: (values, context) => new (cls as unknown as new (p: object) => AnyTask)(takesStore ? { ...values, store: context.store } : values),
    };
  }
  return flow as FlowDefinition;
}
