import type { AppDeps } from '../app';
import { getArtifact } from '../../domain/artifacts';
import { sendFile } from '../download';
import { scopeOf } from './common';
import type { OperationHandlers } from './types';

/** One download operation for every `downloadUrl` (GET and HEAD): see `sendFile`. */
export function artifactHandlers({ db, config }: AppDeps) {
  return {
    downloadArtifact: async (ctx) => {
      const artifact = await getArtifact(db, config.dataDir, scopeOf(ctx), ctx.params.artifactId);
      return sendFile(artifact, ctx, { ArtifactId: artifact.id });
    },
  } satisfies Partial<OperationHandlers>;
}
