// Page 002's JavaScript workflow example, copied unchanged except where the page asks to fill in
// the base URL, the ids and the token (taken from the environment by test/e2e/seed-pages.test.ts).
const BASE_URL = process.env.BASE_URL;
const TENANT_ID = process.env.TENANT_ID;
const PROJECT_ID = process.env.PROJECT_ID;
const token = process.env.TOKEN;

// 1. Yeni bir iş gönder
const submitJob = async () => {
  const response = await fetch(`${BASE_URL}/api/${TENANT_ID}/${PROJECT_ID}/execution/job`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'Authorization': `Bearer ${token}`
    },
    body: JSON.stringify({
      jobName: 'Customer Behavior Analysis',
      jobDescription: 'Müşteri etkileşim kalıplarının haftalık analizi',
      jobType: 'ProcessMining',
      priority: 'High',
      resource: {
        resourceType: 'Pipeline',
        resourceId: process.env.PIPELINE_ID
      },
      parameters: {
        datasetId: process.env.DATASET_ID,
        analysisType: 'comprehensive',
        timeWindow: {
          startDate: '2024-01-13',
          endDate: '2024-01-19'
        },
        includeAnomalyDetection: true,
        outputFormat: 'detailed_report'
      },
      scheduling: {
        executeImmediately: true,
        timeoutMinutes: 90
      },
      notifications: {
        onCompletion: true,
        onFailure: true,
        emailRecipients: ['analyst@company.com']
      }
    })
  });

  return await response.json();
};

// 2. İş ilerlemesini izle
const monitorJob = async (jobId) => {
  const checkStatus = async () => {
    const response = await fetch(`${BASE_URL}/api/${TENANT_ID}/${PROJECT_ID}/execution/job/${jobId}`, {
      headers: {
        'Authorization': `Bearer ${token}`
      }
    });

    const job = await response.json();
    console.log(`İş ${jobId}: ${job.status} (${job.progress.percentage}%)`);
    console.log(`Mevcut aşama: ${job.progress.currentStage}`);
    console.log(`Tahmini tamamlanma: ${job.progress.estimatedCompletion}`);

    if (job.status === 'Running' || job.status === 'Queued') {
      setTimeout(() => checkStatus(), 30000); // Her 30 saniyede bir kontrol et
    } else if (job.status === 'Completed') {
      console.log('İş başarıyla tamamlandı!');
      await getJobResults(jobId);
    } else if (job.status === 'Failed') {
      console.log('İş başarısız oldu:', job.error);
    }
  };

  await checkStatus();
};

// 3. İş sonuçlarını al
const getJobResults = async (jobId) => {
  const response = await fetch(`${BASE_URL}/api/${TENANT_ID}/${PROJECT_ID}/execution/job/${jobId}/results?format=detailed&includeArtifacts=true`, {
    headers: {
      'Authorization': `Bearer ${token}`
    }
  });

  const results = await response.json();
  console.log('İş Sonuçları:', results.summary);
  console.log('Birincil Çıktı:', results.results.primaryOutput.downloadUrl);

  // Ek çıktıları indir
  for (const output of results.results.additionalOutputs) {
    console.log(`İndir ${output.type}: ${output.downloadUrl}`);
  }

  return results;
};

// 4. Sistem durumunu al
const getSystemStatus = async () => {
  const response = await fetch(`${BASE_URL}/api/${TENANT_ID}/execution/system/status`, {
    headers: {
      'Authorization': `Bearer ${token}`
    }
  });

  const status = await response.json();
  console.log(`Sistem Durumu: ${status.systemStatus}`);
  console.log(`Kuyruk: ${status.queueStatistics.totalQueuedJobs} iş bekliyor`);
  console.log(`Ortalama bekleme süresi: ${status.queueStatistics.averageWaitTime}`);

  return status;
};

// İş akışını çalıştır
submitJob()
  .then(job => {
    console.log(`Gönderilen iş: ${job.jobId}`);
    console.log(`Kuyruk pozisyonu: ${job.queuePosition}`);
    console.log(`Tahmini başlama: ${job.estimatedStartTime}`);
    return monitorJob(job.jobId);
  })
  .catch(error => console.error('İş akışı başarısız oldu:', error));
