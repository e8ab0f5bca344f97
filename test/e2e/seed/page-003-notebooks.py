# Page 003's Python example, copied unchanged except where the page asks to fill in the base URL,
# the ids and the token (taken from the environment by test/e2e/seed-pages.test.ts).
import os
import requests

BASE_URL = os.environ['BASE_URL']
TENANT_ID = os.environ['TENANT_ID']
PROJECT_ID = os.environ['PROJECT_ID']

class NotebookManager:
    def __init__(self, api_key):
        self.headers = {
            'Authorization': f'Bearer {api_key}',
            'Content-Type': 'application/json'
        }

    def list_notebooks(self, investigation_id):
        """Bir soruşturmadaki tüm defterleri listeler."""
        url = f'{BASE_URL}/api/{TENANT_ID}/{PROJECT_ID}/notebook/investigation/{investigation_id}'
        response = requests.get(url, headers=self.headers)
        response.raise_for_status()
        return response.json()

    def get_notebook(self, notebook_id):
        """Defter detaylarını getirir."""
        url = f'{BASE_URL}/api/{TENANT_ID}/{PROJECT_ID}/notebook/{notebook_id}'
        response = requests.get(url, headers=self.headers)
        response.raise_for_status()
        return response.json()

    def create_notebook(self, investigation_id, name, description=None):
        """Yeni bir defter oluşturur."""
        url = f'{BASE_URL}/api/{TENANT_ID}/{PROJECT_ID}/notebook/investigation/{investigation_id}'
        data = {'name': name, 'description': description}
        response = requests.post(url, json=data, headers=self.headers)
        response.raise_for_status()
        return response.json()

    def create_from_template(self, investigation_id, template_id, name=None):
        """Şablondan defter oluşturur."""
        url = f'{BASE_URL}/api/{TENANT_ID}/{PROJECT_ID}/notebook/investigation/{investigation_id}/from-template'
        data = {'templateId': template_id, 'name': name}
        response = requests.post(url, json=data, headers=self.headers)
        response.raise_for_status()
        return response.json()

    def update_notebook(self, notebook_id, name, description=None, date_modified=None):
        """İyimser kilitleme ile defteri günceller."""
        url = f'{BASE_URL}/api/{TENANT_ID}/{PROJECT_ID}/notebook/{notebook_id}'
        data = {'name': name, 'description': description}
        if date_modified:
            data['dateModified'] = date_modified
        response = requests.put(url, json=data, headers=self.headers)
        if response.status_code == 409:
            conflict = response.json()
            raise Exception(f"Çakışma: {conflict['Message']}")
        response.raise_for_status()
        return response.json()

    def delete_notebook(self, notebook_id):
        """Bir defteri siler."""
        url = f'{BASE_URL}/api/{TENANT_ID}/{PROJECT_ID}/notebook/{notebook_id}'
        response = requests.delete(url, headers=self.headers)
        response.raise_for_status()
        return response.json()

    def copy_notebook(self, notebook_id, name=None, destination_investigation=None):
        """Bir defteri kopyalar."""
        url = f'{BASE_URL}/api/{TENANT_ID}/{PROJECT_ID}/notebook/{notebook_id}/copy'
        data = {'name': name}
        if destination_investigation:
            data['destinationInvestigationId'] = destination_investigation
        response = requests.post(url, json=data, headers=self.headers)
        response.raise_for_status()
        return response.json()

# Kullanım
manager = NotebookManager(os.environ['TOKEN'])
investigation_id = os.environ['INVESTIGATION_ID']

# Defterleri listele
notebooks = manager.list_notebooks(investigation_id)
print(f"{len(notebooks)} defter bulundu")

# Defter oluştur
notebook = manager.create_notebook(investigation_id, 'New Analysis', 'My workflow')
print(f"Defter oluşturuldu: {notebook['notebookId']}")

# Defteri kopyala
copy = manager.copy_notebook(notebook['notebookId'], 'Copy of New Analysis')
print(f"Kopya oluşturuldu: {copy['notebookId']}")

# İyimser kilitleme ile güncelle
try:
    updated = manager.update_notebook(
        notebook['notebookId'],
        'Renamed Analysis',
        date_modified=notebook['dateModified']
    )
except Exception as e:
    print(f"Güncelleme başarısız: {e}")
