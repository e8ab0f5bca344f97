# Page 002's usage example ("Kullanım örneği"), copied unchanged except where the page asks to
# fill in the base URL, the ids and the token (taken from the environment by
# test/e2e/seed-pages.test.ts). The class is the page's, in page_002_execution_manager.py.
import os

from page_002_execution_manager import ExecutionManager

# Kullanım örneği
manager = ExecutionManager(
    os.environ['BASE_URL'],
    os.environ['TENANT_ID'],
    os.environ['PROJECT_ID'],
    os.environ['TOKEN']
)

try:
    # Sistem durumunu kontrol et
    system_status = manager.get_system_status()
    print(f"Sistem Durumu: {system_status['systemStatus']}")
    print(f"Kuyruktaki işler: {system_status['queueStatistics']['totalQueuedJobs']}")
    print(f"Ortalama bekleme süresi: {system_status['queueStatistics']['averageWaitTime']}")

    # Kapsamlı bir süreç madenciliği işi gönder
    job_params = {
        'datasetId': os.environ['DATASET_ID'],
        'analysisType': 'comprehensive',
        'timeWindow': {
            'startDate': '2024-01-01',
            'endDate': '2024-01-31'
        },
        'includeAnomalyDetection': True,
        'includeProcessVariants': True,
        'generateInsights': True,
        'outputFormat': 'detailed_report',
        'performanceMetrics': ['cycle_time', 'waiting_time', 'resource_utilization'],
        'qualityChecks': {
            'validateTimestamps': True,
            'checkDuplicates': True,
            'validateActivities': True
        }
    }

    job = manager.submit_job(
        'Monthly Process Analytics',
        'ProcessMining',
        'Pipeline',
        os.environ['PIPELINE_ID'],
        job_params,
        'High'
    )

    print(f"Gönderilen iş: {job['jobId']}")
    print(f"Kuyruk pozisyonu: {job['queuePosition']}")
    print(f"Tahmini başlama: {job['estimatedStartTime']}")

    # Tamamlanmasını bekle
    final_job = manager.wait_for_completion(job['jobId'])

    if final_job['status'] == 'Completed':
        # Detaylı sonuçları al
        results = manager.get_job_results(job['jobId'])

        print("İş başarıyla tamamlandı!")
        print(f"İşlenen kayıt sayısı: {results['summary']['recordsProcessed']:,}")
        print(f"Veri kalitesi puanı: {results['summary']['dataQualityScore']}")
        print(f"İşleme verimliliği: {results['summary']['processingEfficiency']}%")

        # Birincil raporu indir
        print(f"Rapor indir: {results['results']['primaryOutput']['downloadUrl']}")

        # Tüm ek çıktıları listele
        for output in results['results']['additionalOutputs']:
            print(f"İndir {output['type']}: {output['downloadUrl']}")

    else:
        print(f"İş başarısız oldu, durum: {final_job['status']}")
        if 'error' in final_job:
            print(f"Hata: {final_job['error']}")

except Exception as e:
    print(f"Yürütme iş akışında hata: {e}")
