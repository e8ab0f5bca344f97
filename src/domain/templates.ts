import type { BlockConfiguration, Template } from '../api/types';

/** A block of a standard template. */
export interface TemplateBlock {
  blockType: 'Filter' | 'Calculator' | 'Alert';
  blockTitle: string;
  blockDescription?: string;
  configuration: BlockConfiguration;
}

/** A cell of a Jupyter template. */
export interface TemplateCell {
  cellType: 'code' | 'markdown';
  content: string;
  tags?: string[];
}

interface StandardTemplate {
  templateId: string;
  kind: 'standard';
  name: string;
  description: string;
  blocks: TemplateBlock[];
}

interface JupyterTemplate {
  templateId: string;
  kind: 'jupyter';
  name: string;
  description: string;
  cells: TemplateCell[];
}

/** The built-in templates. Ids are fixed so that clients can keep them. */
const STANDARD: StandardTemplate[] = [
  {
    templateId: '5f0c3a10-7d1e-4b8a-9c3e-000000000001',
    kind: 'standard',
    name: 'Process Discovery',
    description: 'Overview, process map and the most frequent variants of the whole log.',
    blocks: [
      { blockType: 'Calculator', blockTitle: 'Overview', configuration: { calculatorType: 'summary' } },
      { blockType: 'Calculator', blockTitle: 'Process map', configuration: { calculatorType: 'processMap' } },
      { blockType: 'Calculator', blockTitle: 'Variants', configuration: { calculatorType: 'variants', limit: 20 } },
    ],
  },
  {
    templateId: '5f0c3a10-7d1e-4b8a-9c3e-000000000002',
    kind: 'standard',
    name: 'Performance',
    description: 'Throughput times, the slowest hand-overs, and an alert on cases slower than 30 days.',
    blocks: [
      { blockType: 'Calculator', blockTitle: 'Throughput time', configuration: { calculatorType: 'throughputTime' } },
      {
        blockType: 'Calculator',
        blockTitle: 'Bottlenecks',
        configuration: { calculatorType: 'bottlenecks', limit: 10 },
      },
      {
        blockType: 'Alert',
        blockTitle: 'Cases slower than 30 days',
        configuration: {
          alertType: 'caseCondition',
          caseMetric: 'durationSeconds',
          operator: 'gt',
          threshold: 2592000,
          severity: 'Warning',
        },
      },
    ],
  },
  {
    templateId: '5f0c3a10-7d1e-4b8a-9c3e-000000000003',
    kind: 'standard',
    name: 'Rework and workload',
    description: 'Cases with repeated activities, how often each activity repeats, and who does the work.',
    blocks: [
      {
        blockType: 'Filter',
        blockTitle: 'Cases with rework',
        configuration: { filterType: 'rework', minOccurrences: 2 },
      },
      { blockType: 'Calculator', blockTitle: 'Rework by activity', configuration: { calculatorType: 'rework' } },
      {
        blockType: 'Calculator',
        blockTitle: 'Resource workload',
        configuration: { calculatorType: 'resourceWorkload' },
      },
    ],
  },
];

const JUPYTER: JupyterTemplate[] = [
  {
    templateId: 'process_mining_starter',
    kind: 'jupyter',
    name: 'Process mining starter',
    description:
      'Loads the bound dataset with pandas: cases, variants and throughput times, a chart of activities, the log enriched with case durations and, on request, a model of slow cases.',
    cells: [
      {
        cellType: 'markdown',
        content:
          '# Process mining starter\n\nLoads the dataset bound to this notebook and measures cases, variants and throughput times.',
      },
      {
        cellType: 'code',
        content:
          "# Parameters: override them when executing the notebook.\ndataset_id = None\nanalysis_type = 'full_analysis'\ntime_window = 'all'\nml_models = []\ngenerate_visualizations = True\ntop_variants = 10",
        tags: ['parameters'],
      },
      {
        cellType: 'code',
        content:
          "import assay\n\nlog = assay.load_dataset()\nlog = log.sort_values(['case_id', 'timestamp'], kind='stable')\nprint(f\"{log['case_id'].nunique()} cases, {len(log)} events, {log['activity'].nunique()} activities\")",
      },
      {
        cellType: 'code',
        content:
          "variants = log.groupby('case_id', sort=False)['activity'].agg(tuple).value_counts()\nvariants.head(top_variants).rename('cases').to_frame()",
      },
      {
        cellType: 'code',
        content:
          "spans = log.groupby('case_id')['timestamp'].agg(['min', 'max', 'count'])\nspans['duration_s'] = (spans['max'] - spans['min']).dt.total_seconds()\nspans['duration_s'].describe(percentiles=[0.5, 0.9]).to_frame('throughput seconds')",
      },
      {
        cellType: 'code',
        content:
          "if generate_visualizations:\n    import matplotlib.pyplot as plt\n    ax = log['activity'].value_counts().head(15).plot.barh(figsize=(7, 4), title='Events per activity')\n    ax.invert_yaxis()\n    plt.tight_layout()\n    plt.show()",
      },
      {
        cellType: 'code',
        content:
          "log['case_duration_s'] = log['case_id'].map(spans['duration_s'])\nlog['case_event_count'] = log['case_id'].map(spans['count'])\nassay.publish_enriched(log, 'cases_with_durations')",
      },
      {
        cellType: 'code',
        content:
          "if 'process_prediction' in ml_models and spans['duration_s'].nunique() > 1:\n    from sklearn.tree import DecisionTreeClassifier\n    slow = spans['duration_s'] > spans['duration_s'].median()\n    model = DecisionTreeClassifier(max_depth=3).fit(spans[['count']], slow)\n    assay.publish_model(model, 'slow_case_predictor', {'accuracy': float(model.score(spans[['count']], slow))})",
      },
    ],
  },
  {
    templateId: 'case_enrichment',
    kind: 'jupyter',
    name: 'Case enrichment',
    description: 'Adds per-case duration and event count columns and publishes the enriched dataset.',
    cells: [
      { cellType: 'code', content: "enriched_name = 'cases_enriched'", tags: ['parameters'] },
      {
        cellType: 'code',
        content:
          "import assay\n\nlog = assay.load_dataset()\nper_case = log.groupby('case_id')['timestamp'].agg(['min', 'max', 'count'])\nlog['case_duration_s'] = log['case_id'].map((per_case['max'] - per_case['min']).dt.total_seconds())\nlog['case_event_count'] = log['case_id'].map(per_case['count'])\nassay.publish_enriched(log, enriched_name)",
      },
    ],
  },
];

/** Every built-in template as the contract lists it, optionally of one kind. */
export function listTemplates(kind?: 'standard' | 'jupyter'): Template[] {
  const standard = STANDARD.map((t): Template => ({
    templateId: t.templateId,
    kind: t.kind,
    name: t.name,
    description: t.description,
    blocks: t.blocks.map((b) => ({ blockType: b.blockType, blockTitle: b.blockTitle, configuration: b.configuration })),
  }));
  const jupyter = JUPYTER.map((t): Template => ({
    templateId: t.templateId,
    kind: t.kind,
    name: t.name,
    description: t.description,
    cellCount: t.cells.length,
    parameters: parameterNames(t.cells),
  }));
  const all = [...standard, ...jupyter];
  return kind ? all.filter((t) => t.kind === kind) : all;
}

/** A standard template by id (case-insensitive), or undefined. */
export function standardTemplate(id: string): StandardTemplate | undefined {
  return STANDARD.find((t) => t.templateId === id.toLowerCase());
}

/** A Jupyter template by id, or undefined. */
export function jupyterTemplate(id: string): JupyterTemplate | undefined {
  return JUPYTER.find((t) => t.templateId === id);
}

/** The ids of the Jupyter templates, for error messages. */
export function jupyterTemplateIds(): string[] {
  return JUPYTER.map((t) => t.templateId);
}

function parameterNames(cells: TemplateCell[]): string[] {
  const cell = cells.find((c) => c.tags?.includes('parameters'));
  if (!cell) return [];
  return [...cell.content.matchAll(/^([A-Za-z_]\w*)\s*=/gm)].map((m) => m[1]);
}
