package io.tokenbus.fanout;

/**
 * The byte formats a viewer can receive; each is encoded at most once per event per node, by the
 * stream's {@link StreamSource}. Every kind of stream has the first two; the rest are a
 * generation's alone.
 */
public enum WireFormat {
  /**
   * The stream's own SSE events ({@code GET /v1/generations/{id}/events}, {@code GET
   * /v1/sessions/{id}/events}): {@code id:}, {@code event:} and JSON {@code data:}.
   */
  SSE,
  /**
   * {@code /v1/ws}: one JSON text frame per event, encoded as the whole frame (header and payload).
   */
  WEBSOCKET,
  /**
   * {@code POST /v1/chat/completions} with {@code stream: true}: {@code chat.completion.chunk}
   * lines.
   */
  CHAT_CHUNKS,
  /**
   * The same, with the usage chunk the client asked for with {@code stream_options.include_usage}.
   */
  CHAT_CHUNKS_WITH_USAGE,
  /**
   * {@code POST /stream}: the classic {@code data: <token>} stream ending with {@code data:
   * [DONE]}.
   */
  SEED_SSE,
  /**
   * {@code POST /stream?format=json}: the same stream with each token as {@code data: {"token":
   * "..."}}, one line whatever the token holds, so a reader that splits on line breaks loses
   * nothing.
   */
  SEED_JSON,
  /**
   * {@code POST /v1/responses} with {@code stream: true}: each delta as a {@code
   * response.output_text.delta} event; the events around them are the client's own.
   */
  RESPONSES,
  /** Nothing is written: a viewer that only waits for the end (non-streaming completions). */
  NONE
}
