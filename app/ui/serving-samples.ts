import { histogramQuantile, parsePrometheusText, type PromSample } from './pages/prometheus-text';

/** What one scrape of a model server's /metrics said, reduced to what the serving page draws. */
export interface ServerSample {
  /** ms since the epoch, when scraped. */
  readonly at: number;
  /** Client requests so far (the server leaves /metrics and health checks out). */
  readonly requests: number;
  /** Of those, answered 5xx / 4xx. */
  readonly serverErrors: number;
  readonly clientErrors: number;
  /** Cumulative latency buckets over all routes: seconds -> count. */
  readonly buckets: readonly { le: number; count: number }[];
  /** `model=... version=... alias=...` of the version serving. */
  readonly version?: string;
}

/** A scrape reduced to a sample; samples keeps the parsed text for the page's detail table. */
export function toSample(at: number, samples: readonly PromSample[]): ServerSample {
  const requests = samples.filter((x) => /requests_total$/.test(x.name) && !/^\/(metrics|health|ping)$|\/health\//.test(x.labels.route ?? ''));
  const sum = (xs: readonly PromSample[]) => xs.reduce((a, s) => a + s.value, 0);
  const byLe = new Map<number, number>();
  for (const b of samples.filter((x) => /duration.*_bucket$|latency.*_bucket$/.test(x.name) && !/^\/(metrics|health|ping)$|\/health\//.test(x.labels.route ?? ''))) {
    const le = b.labels.le === '+Inf' ? Infinity : Number(b.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + b.value);
  }
  const info = samples.find((x) => /_info$/.test(x.name) && x.labels.version !== undefined && x.value === 1);
  return {
    at,
    requests: sum(requests),
    serverErrors: sum(requests.filter((r) => /^5/.test(r.labels.status ?? ''))),
    clientErrors: sum(requests.filter((r) => /^4/.test(r.labels.status ?? ''))),
    buckets: [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le),
    ...(info ? { version: Object.entries(info.labels).map(([k, v]) => `${k}=${v}`).join(' ') } : {}),
  };
}

/** Between two samples: requests and errors per second, latency quantiles of the requests in between (ms). */
export interface ServerInterval {
  readonly at: number;
  readonly rate: number;
  readonly errorRate: number;
  readonly p50?: number;
  readonly p95?: number;
  readonly p99?: number;
}

export function interval(before: ServerSample, after: ServerSample): ServerInterval | undefined {
  const seconds = (after.at - before.at) / 1000;
  // A restarted server starts its counters from 0: no interval across that.
  if (seconds <= 0 || after.requests < before.requests) return undefined;
  const earlier = new Map(before.buckets.map((b) => [b.le, b.count]));
  const delta = after.buckets.map((b) => ({ le: b.le, count: b.count - (earlier.get(b.le) ?? 0) }));
  const q = (p: number) => {
    const v = histogramQuantile(delta, p);
    return v === undefined ? undefined : v * 1000;
  };
  return { at: after.at, rate: (after.requests - before.requests) / seconds, errorRate: (after.serverErrors - before.serverErrors) / seconds, p50: q(0.5), p95: q(0.95), p99: q(0.99) };
}

/**
 * Scrapes a model server's /metrics every `everyMs` for as long as the UI
 * runs, keeping the last `keep` samples: the request rate is the server's
 * own counters over time, whoever looks at the page and however often.
 */
export class ServerSampler {
  private readonly samples: ServerSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  last: { samples: PromSample[]; error?: string } = { samples: [] };

  constructor(
    readonly serverUrl: string,
    readonly everyMs = 10_000,
    private readonly keep = 360,
  ) {}

  start(): void {
    if (this.timer) return;
    const tick = async () => {
      await this.scrape();
      if (this.timer) this.timer = setTimeout(() => void tick(), this.everyMs).unref();
    };
    this.timer = setTimeout(() => void tick(), 0).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One scrape now (the page also scrapes when opened, so it shows the present). */
  async scrape(): Promise<void> {
    try {
      const res = await fetch(new URL('/metrics', this.serverUrl), { signal: AbortSignal.timeout(2000) });
      if (!res.ok) {
        this.last = { samples: [], error: `${this.serverUrl}/metrics answered ${res.status}` };
        return;
      }
      const parsed = parsePrometheusText(await res.text());
      this.last = { samples: parsed };
      this.samples.push(toSample(Date.now(), parsed));
      if (this.samples.length > this.keep) this.samples.splice(0, this.samples.length - this.keep);
    } catch (err) {
      this.last = { samples: [], error: `could not read ${this.serverUrl}/metrics: ${(err as Error).message}` };
    }
  }

  history(): readonly ServerSample[] {
    return this.samples;
  }

  intervals(): ServerInterval[] {
    const out: ServerInterval[] = [];
    for (let i = 1; i < this.samples.length; i++) {
      const one = interval(this.samples[i - 1], this.samples[i]);
      if (one) out.push(one);
    }
    return out;
  }
}
