// Page 004's JavaScript example, copied unchanged except where the page asks to fill in the
// base URL, the ids and the token (taken from the environment by test/e2e/seed-pages.test.ts).
const TENANT_ID = process.env.TENANT_ID;
const PROJECT_ID = process.env.PROJECT_ID;
const BASE_URL = process.env.BASE_URL;

class BlockManager {
  constructor(token) {
    this.token = token;
    this.headers = {
      'Authorization': `Bearer ${token}`,
      'Content-Type': 'application/json'
    };
  }

  async getBlock(blockId) {
    const url = `${BASE_URL}/api/${TENANT_ID}/${PROJECT_ID}/block/${blockId}`;
    const response = await fetch(url, { headers: this.headers });

    if (response.ok) {
      return await response.json();
    } else if (response.status === 404) {
      throw new Error('Blok bulunamadı');
    } else {
      throw new Error(`Blok alınamadı: ${response.status}`);
    }
  }

  async updateBlock(blockId, updates) {
    const url = `${BASE_URL}/api/${TENANT_ID}/${PROJECT_ID}/block/${blockId}`;
    const response = await fetch(url, {
      method: 'PUT',
      headers: this.headers,
      body: JSON.stringify(updates)
    });

    if (response.ok) {
      return await response.json();
    } else {
      throw new Error(`Blok güncellenemedi: ${response.status}`);
    }
  }

  async deleteBlock(blockId) {
    const url = `${BASE_URL}/api/${TENANT_ID}/${PROJECT_ID}/block/${blockId}`;
    const response = await fetch(url, {
      method: 'DELETE',
      headers: this.headers
    });

    return response.status === 204;
  }
}

// Kullanım
const manager = new BlockManager(process.env.TOKEN);

// Blok detaylarını al
const block = await manager.getBlock(process.env.BLOCK_ID);
console.log(`Blok: ${block.blockTitle} (${block.blockType})`);

// Bloku güncelle
const updated = await manager.updateBlock(process.env.BLOCK_ID, {
  blockTitle: 'Güncellenmiş Başlık',
  isDisabled: false
});

// Bloku sil
const deleted = await manager.deleteBlock(process.env.BLOCK_ID);
