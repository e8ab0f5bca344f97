# The rest of page 002's ExecutionManager flow: list, cancel and retry, driven through the page's
# own class (page_002_execution_manager.py, unchanged) by test/e2e/seed-pages.test.ts.
import os

from page_002_execution_manager import ExecutionManager

manager = ExecutionManager(os.environ['BASE_URL'], os.environ['TENANT_ID'], os.environ['PROJECT_ID'], os.environ['TOKEN'])

job = manager.submit_job('Cancel me', 'DataEnrichment', 'Dataset', os.environ['DATASET_ID'], priority='Low')
print('cancelled:', manager.cancel_job(job['jobId'], reason='Changed my mind'))
print('status:', manager.get_job_status(job['jobId'])['status'])
print('cancelled again:', manager.cancel_job(job['jobId']))

retried = manager.retry_job(job['jobId'], reason='Go ahead after all', priority='High', modify_params={'outputName': 'Enriched copy'})
print('retry of original:', retried['retryOf'] == job['jobId'], retried['priority'], retried['parameters'])

final = manager.wait_for_completion(retried['jobId'], poll_interval=1, timeout=60)
results = manager.get_job_results(retried['jobId'])
print('retry result:', final['status'], results['results']['primaryOutput']['type'], results['results']['primaryOutput']['title'])

listed = manager.list_jobs(status='Cancelled')
print('cancelled jobs listed:', [j['jobName'] for j in listed['jobs']])
