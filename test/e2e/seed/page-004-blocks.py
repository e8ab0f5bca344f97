# Page 004's Python example, copied unchanged except where the page asks to fill in the base URL,
# the ids and the token (taken from the environment by test/e2e/seed-pages.test.ts).
import os
import requests

TENANT_ID = os.environ['TENANT_ID']
PROJECT_ID = os.environ['PROJECT_ID']
BASE_URL = os.environ['BASE_URL']

class BlockManager:
    def __init__(self, token):
        self.headers = {
            'Authorization': f'Bearer {token}',
            'Content-Type': 'application/json'
        }

    def get_block(self, block_id):
        """Blok detaylarını al."""
        url = f'{BASE_URL}/api/{TENANT_ID}/{PROJECT_ID}/block/{block_id}'
        response = requests.get(url, headers=self.headers)

        if response.ok:
            return response.json()
        elif response.status_code == 404:
            raise Exception('Blok bulunamadı')
        else:
            raise Exception(f'Blok alınamadı: {response.status_code}')

    def update_block(self, block_id, title=None, description=None, disabled=None):
        """Blok meta verilerini güncelle."""
        url = f'{BASE_URL}/api/{TENANT_ID}/{PROJECT_ID}/block/{block_id}'
        payload = {}
        if title is not None:
            payload['blockTitle'] = title
        if description is not None:
            payload['blockDescription'] = description
        if disabled is not None:
            payload['isDisabled'] = disabled

        response = requests.put(url, json=payload, headers=self.headers)

        if response.ok:
            return response.json()
        else:
            raise Exception(f'Blok güncellenemedi: {response.status_code}')

    def delete_block(self, block_id):
        """Bloku sil."""
        url = f'{BASE_URL}/api/{TENANT_ID}/{PROJECT_ID}/block/{block_id}'
        response = requests.delete(url, headers=self.headers)
        return response.status_code == 204

# Kullanım
manager = BlockManager(os.environ['TOKEN'])

# Bloku al
block = manager.get_block(os.environ['BLOCK_ID'])
print(f"Blok: {block['blockTitle']} ({block['blockType']})")
print(f"Çalıştırma sayısı: {block['executionCount']}")

# Bloku güncelle
updated = manager.update_block(os.environ['BLOCK_ID'], title='Yeni Başlık', disabled=False)
print(f"Güncellendi: {updated['blockTitle']}")

# Bloku sil
if manager.delete_block(os.environ['BLOCK_ID']):
    print('Blok başarıyla silindi')
