// The React renderer arrives with the desktop-app issue. This entry exists so the browser
// tsconfig project checks, from day one, that core/shared stays free of Node-only imports.
import { PROTOCOL_VERSION } from '../../core/shared/protocol/index.ts';
import { BUILTIN_PRESETS } from '../../core/shared/builtin-presets.ts';

export const rendererProtocolVersion = PROTOCOL_VERSION;
export const builtinPresetIds = BUILTIN_PRESETS.map((p) => p.id);
