package io.tokenbus.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Chunk extras")
class ChunkExtrasTest {

  @Test
  @DisplayName(
      "OpenAI's per-chunk obfuscation padding is dropped; fields that mean something are kept")
  void obfuscationIsDropped() {
    JsonObject chunk =
        new JsonObject(
            """
        {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","service_tier":"default",
         "system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],
         "obfuscation":"x8Qz"}""");
    assertEquals(
        new JsonObject().put("service_tier", "default").put("system_fingerprint", "fp_1"),
        ChunkExtras.of(chunk));
    JsonObject bare =
        new JsonObject(
            """
        {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o",
         "choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"obfuscation":"aQ"}""");
    assertNull(
        ChunkExtras.of(bare),
        "a chunk with nothing but text and padding has no extras, so its delta can be merged");
  }
}
