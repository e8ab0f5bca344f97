import fs from 'node:fs';
import type { AppDeps } from '../app';
import { getArtifact } from '../../domain/artifacts';
import { plainError } from '../errors';
import type { Reply } from '../reply';
import { contentDisposition } from './datasets';
import { scopeOf } from './common';
import type { Handler } from './index';

/** One download operation for every `downloadUrl`: content type, name, ETag, and single byte ranges. */
export function artifactHandlers({ db, config }: AppDeps): Record<string, Handler> {
  return {
    downloadArtifact: async (ctx): Promise<Reply> => {
      const artifact = await getArtifact(db, config.dataDir, scopeOf(ctx), ctx.params.artifactId.toLowerCase());
      const headers = {
        'Content-Disposition': contentDisposition(artifact.fileName),
        ETag: `"${artifact.sha256}"`,
        'Accept-Ranges': 'bytes',
      };
      const range = ctx.headers.range;
      if (!range) {
        return {
          status: 200,
          stream: fs.createReadStream(artifact.path),
          contentType: artifact.contentType,
          headers: { ...headers, 'Content-Length': String(artifact.sizeBytes) },
        };
      }
      const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      const size = artifact.sizeBytes;
      let start = m?.[1] ? Number(m[1]) : undefined;
      let end = m?.[2] ? Number(m[2]) : undefined;
      if (start === undefined && end !== undefined) [start, end] = [Math.max(0, size - end), size - 1]; // the last `end` bytes
      if (start === undefined || start >= size || (end !== undefined && end < start)) {
        return {
          ...plainError(416, 'Range not satisfiable', `The file has ${size} bytes.`, ctx.requestId, {
            ArtifactId: artifact.id,
          }),
          headers: { 'Content-Range': `bytes */${size}` },
        };
      }
      const last = Math.min(end ?? size - 1, size - 1);
      return {
        status: 206,
        stream: fs.createReadStream(artifact.path, { start, end: last }),
        contentType: 'application/octet-stream',
        headers: {
          ETag: headers.ETag,
          'Content-Range': `bytes ${start}-${last}/${size}`,
          'Content-Length': String(last - start + 1),
        },
      };
    },
  };
}
