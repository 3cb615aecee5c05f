// Parses Prometheus' text exposition format with Prometheus' own Python client
// (python3-prometheus-client: text_string_to_metric_families), so a format error is found by the
// parser Prometheus' ecosystem uses rather than by our reading of the spec. Debian's
// /usr/bin/python3 is the one that has it (a pyenv python3 on PATH may not).
import { execFile } from 'node:child_process';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const PARSE = `
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({'name': f.name, 'type': f.type, 'help': f.documentation,
                'samples': [{'name': s.name, 'labels': s.labels,
                             'value': 'Infinity' if math.isinf(s.value) else s.value} for s in f.samples]})
print(json.dumps(out))
`;

export function parsePrometheusText(text: string): Promise<MetricFamily[]> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', ['-c', PARSE], (err, stdout, stderr) => {
      if (err) return reject(new Error(`the Prometheus parser refused the text: ${stderr || err.message}\n${text}`));
      resolve(JSON.parse(stdout) as MetricFamily[]);
    });
    child.stdin!.end(text);
  });
}

/** The value of the one sample named `name` with these labels (all of them). */
export function sampleValue(families: MetricFamily[], name: string, labels: Record<string, string> = {}): number {
  const same = (l: Record<string, string>) =>
    Object.keys(l).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => l[k] === v);
  const found = families.flatMap((f) => f.samples).filter((s) => s.name === name && same(s.labels));
  if (found.length !== 1) throw new Error(`${found.length} samples ${name}${JSON.stringify(labels)}`);
  return found[0]!.value;
}
