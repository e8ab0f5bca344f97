"""Assay's helpers for notebook kernels: the bound dataset in, enriched datasets and models out.

The service puts this module on the kernel's path and runs each execution in a sandbox of its
own: the bound dataset is `dataset.csv` in a read-only input directory (ASSAY_INPUT_DIR), and
what the notebook publishes is written to the run directory (ASSAY_RUN_DIR) with a manifest.
"""
import json
import os
import pickle
import re

import pandas as pd

_RENAMES = {
    'case:concept:name': 'case_id',
    'concept:name': 'activity',
    'time:timestamp': 'timestamp',
    'org:resource': 'resource',
    'lifecycle:transition': 'lifecycle',
}
_input_columns = None


def _run_dir():
    return os.environ.get('ASSAY_RUN_DIR') or os.getcwd()


def _input_dir():
    return os.environ.get('ASSAY_INPUT_DIR') or _run_dir()


def load_dataset():
    """The dataset bound to the notebook as a DataFrame: case_id, activity, timestamp (UTC),
    resource, lifecycle and every other attribute of the log, one row per event.

    Every column is text as the import stored it (no guessing: a case named `NA` stays `NA`);
    only an empty field is missing, and `timestamp` is a UTC datetime."""
    global _input_columns
    path = os.path.join(_input_dir(), 'dataset.csv')
    if not os.path.exists(path):
        raise FileNotFoundError('This notebook is bound to no dataset (integration.datasetBinding).')
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[''], low_memory=False)
    df = df.rename(columns=_RENAMES)
    df['timestamp'] = pd.to_datetime(df['timestamp'], utc=True)
    _input_columns = list(df.columns)
    return df


def _safe(name):
    return re.sub(r'[^A-Za-z0-9_.-]+', '_', str(name)).strip('._') or 'output'


def _record(entry):
    manifest = os.path.join(_run_dir(), 'assay-outputs.json')
    entries = []
    if os.path.exists(manifest):
        with open(manifest) as f:
            entries = json.load(f)
    entries = [e for e in entries if not (e['kind'] == entry['kind'] and e['name'] == entry['name'])]
    entries.append(entry)
    with open(manifest, 'w') as f:
        json.dump(entries, f)


def publish_enriched(df, name):
    """Publishes an enriched dataset: it becomes a new dataset of the project after the run.
    Returns the columns it adds to the loaded dataset."""
    for column in ('case_id', 'activity', 'timestamp'):
        if column not in df.columns:
            raise ValueError(f'An enriched dataset keeps the column {column!r} of load_dataset().')
    file = f'enriched-{_safe(name)}.csv'
    out = df.copy()
    out['timestamp'] = pd.to_datetime(out['timestamp'], utc=True).dt.strftime('%Y-%m-%dT%H:%M:%S.%fZ')
    out.to_csv(os.path.join(_run_dir(), file), index=False)
    new_columns = [c for c in df.columns if _input_columns is None or c not in _input_columns]
    _record({'kind': 'enriched', 'name': str(name), 'file': file, 'recordCount': int(len(df)), 'newColumns': new_columns})
    return new_columns


def publish_model(obj, name, metrics=None):
    """Publishes a trained model (pickled) with its metrics, such as {'accuracy': 0.91}."""
    file = f'model-{_safe(name)}.pkl'
    with open(os.path.join(_run_dir(), file), 'wb') as f:
        pickle.dump(obj, f)
    kind = f'{type(obj).__module__}.{type(obj).__name__}'
    clean = {str(k): float(v) for k, v in (metrics or {}).items()}
    _record({'kind': 'model', 'name': str(name), 'file': file, 'modelType': kind, 'metrics': clean})
