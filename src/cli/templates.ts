import { Command, Option } from 'commander';
import { common, connect, printJson, table, type CommonOptions } from './context';

async function list(opts: CommonOptions & { kind?: 'standard' | 'jupyter' }, cmd: Command): Promise<void> {
  const client = connect(cmd);
  const answer = client.unwrap(
    await client.api.GET('/api/{tenantId}/{projectId}/templates', {
      params: {
        path: { tenantId: client.tenantId, projectId: client.projectId },
        query: opts.kind ? { kind: opts.kind } : {},
      },
    }),
  );
  if (opts.json) return printJson(answer);
  table(
    ['TEMPLATE', 'KIND', 'CONTENT', 'NAME'],
    answer.templates.map((t) => [
      t.templateId,
      t.kind,
      t.kind === 'standard' ? `${t.blocks?.length ?? 0} blocks` : `${t.cellCount ?? 0} cells`,
      t.name,
    ]),
  );
}

/** Registers `assay templates list`. */
export function registerTemplates(program: Command): void {
  const templates = program.command('templates').description('the built-in notebook templates');
  common(
    templates
      .command('list')
      .description('list the templates `assay notebooks create --template` takes')
      .addOption(new Option('--kind <kind>', 'only templates of this kind').choices(['standard', 'jupyter'])),
  ).action(list);
}
