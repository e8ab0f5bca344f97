# Page 001's Python example, copied unchanged except where the page asks to fill in the base URL,
# the ids and the token (taken from the environment by test/e2e/seed-pages.test.ts), and for its
# indentation, which the page's text lost and which is restored here as Python needs it.
import os
import requests
import time
import json
from pathlib import Path

class NotebookManager:
    def __init__(self, base_url, tenant_id, project_id, token):
        self.base_url = base_url
        self.tenant_id = tenant_id
        self.project_id = project_id
        self.headers = {
            'Authorization': f'Bearer {token}',
            'Content-Type': 'application/json'
        }

    def create_notebook(self, name, description, kernel_type="python3", template=None, integration=None):
        """Erstellt ein neues Jupyter-Notebook"""
        url = f"{self.base_url}/api/{self.tenant_id}/{self.project_id}/notebook"
        payload = {
            'notebookName': name,
            'notebookDescription': description,
            'kernelType': kernel_type,
            'template': template,
            'integration': integration or {
                'enrichmentMode': True,
                'outputFormat': 'enriched_dataframe',
                'autoExecution': False
            }
        }
        response = requests.post(url, json=payload, headers=self.headers)
        return response.json()

    def upload_notebook(self, file_path, name, dataset_binding=None):
        """Lädt eine bestehende Notebook-Datei hoch"""
        url = f"{self.base_url}/api/{self.tenant_id}/{self.project_id}/notebook/upload"
        with open(file_path, 'rb') as file:
            files = {'file': (Path(file_path).name, file, 'application/json')}
            data = {
                'notebookName': name,
                'enrichmentMode': 'true',
                'datasetBinding': dataset_binding or ''
            }
            # Entferne Content-Type Header für Multipart-Upload
            headers = {k: v for k, v in self.headers.items() if k != 'Content-Type'}
            response = requests.post(url, files=files, data=data, headers=headers)
        return response.json()

    def execute_notebook(self, notebook_id, parameters=None, timeout=1800):
        """Führt alle Zellen in einem Notebook aus"""
        url = f"{self.base_url}/api/{self.tenant_id}/{self.project_id}/notebook/{notebook_id}/execute"
        payload = {
            'executionMode': 'all',
            'parameters': parameters or {},
            'outputOptions': {
                'captureOutputs': True,
                'saveIntermediateResults': True,
                'generateReport': True
            },
            'timeout': timeout,
            'priority': 'Normal'
        }
        response = requests.post(url, json=payload, headers=self.headers)
        return response.json()

    def get_execution_status(self, notebook_id, execution_id):
        """Ruft den Ausführungsstatus eines Notebooks ab"""
        url = f"{self.base_url}/api/{self.tenant_id}/{self.project_id}/notebook/{notebook_id}/execution/{execution_id}"
        response = requests.get(url, headers=self.headers)
        return response.json()

    def wait_for_completion(self, notebook_id, execution_id, poll_interval=15, timeout=3600):
        """Wartet, bis die Notebook-Ausführung abgeschlossen ist"""
        start_time = time.time()
        while time.time() - start_time < timeout:
            status = self.get_execution_status(notebook_id, execution_id)
            print(f"Notebook {notebook_id}: {status['status']} ({status['progress']['percentComplete']}%)")
            if status['status'] in ['Completed', 'Error', 'Cancelled']:
                return status
            time.sleep(poll_interval)
        raise TimeoutError(f"Notebook-Ausführung {execution_id} wurde nicht innerhalb von {timeout} Sekunden abgeschlossen")

    def get_execution_results(self, notebook_id, execution_id, output_type="all", format_type="detailed"):
        """Ruft Ausführungsergebnisse eines Notebooks ab"""
        url = f"{self.base_url}/api/{self.tenant_id}/{self.project_id}/notebook/{notebook_id}/execution/{execution_id}/results"
        params = {
            'outputType': output_type,
            'format': format_type
        }
        response = requests.get(url, params=params, headers=self.headers)
        return response.json()

    def list_notebooks(self, status=None, enrichment_mode=None, page=1, page_size=20):
        """Listet alle Notebooks mit optionalen Filtern auf"""
        url = f"{self.base_url}/api/{self.tenant_id}/{self.project_id}/notebooks"
        params = {'page': page, 'pageSize': page_size}
        if status:
            params['status'] = status
        if enrichment_mode is not None:
            params['enrichmentMode'] = str(enrichment_mode).lower()
        response = requests.get(url, params=params, headers=self.headers)
        return response.json()

# Beispielhafte Verwendung
manager = NotebookManager(
    os.environ['BASE_URL'],
    os.environ['TENANT_ID'],
    os.environ['PROJECT_ID'],
    os.environ['TOKEN']
)

try:
    # Erstellt ein Process Mining Notebook
    notebook = manager.create_notebook(
        'Advanced Process Analytics',
        'Machine Learning basierte Prozessanalyse mit Anomalieerkennung',
        'python3',
        'process_mining_starter',
        {
            'enrichmentMode': True,
            'datasetBinding': os.environ['DATASET_ID'],
            'outputFormat': 'enriched_dataframe',
            'autoExecution': False
        }
    )
    print(f"Notebook erstellt: {notebook['notebookId']}")

    # Ausführung mit benutzerdefinierten Parametern
    execution_params = {
        'dataset_id': os.environ['DATASET_ID'],
        'analysis_type': 'full_analysis',
        'time_window': '30_days',
        'ml_models': ['anomaly_detection', 'process_prediction'],
        'generate_visualizations': True
    }
    execution = manager.execute_notebook(
        notebook['notebookId'],
        execution_params,
        timeout=2400  # 40 Minuten
    )
    print(f"Ausführung gestartet: {execution['executionId']}")
    print(f"Geschätzte Dauer: {execution['estimatedDuration']}")

    # Auf Abschluss warten
    final_status = manager.wait_for_completion(
        notebook['notebookId'],
        execution['executionId']
    )

    if final_status['status'] == 'Completed':
        # Detaillierte Ergebnisse abrufen
        results = manager.get_execution_results(
            notebook['notebookId'],
            execution['executionId'],
            'all',
            'detailed'
        )
        print("Notebook-Ausführung erfolgreich abgeschlossen!")
        print(f"Generierte Ausgaben: {len(results['outputs'])}")
        print(f"Angereicherte Datensätze: {len(results['enrichedDatasets'])}")
        print(f"Erstellte ML-Modelle: {len(results['models'])}")

        # Angereicherte Daten herunterladen
        for dataset in results['enrichedDatasets']:
            print(f"Angereicherte Daten herunterladen: {dataset['downloadUrl']}")

        # Modelle herunterladen
        for model in results['models']:
            print(f"Modell '{model['name']}' herunterladen: {model['downloadUrl']}")
    else:
        print(f"Notebook-Ausführung fehlgeschlagen mit Status: {final_status['status']}")
        failed_cells = [cell for cell in final_status['cellResults'] if cell['status'] == 'Error']
        for cell in failed_cells:
            print(f"Zelle {cell['cellId']} fehlgeschlagen: {cell['errorMessage']}")

except Exception as e:
    print(f"Fehler im Notebook-Workflow: {e}")
