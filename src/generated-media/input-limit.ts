// The largest input document, as JSON text; config media are kilobytes. A module of its own: the
// daemon reads a document up to this size before it loads the generator (at its first medium).
export const MAX_GENERATED_MEDIA_INPUT_BYTES = 8 * 1024 * 1024;
