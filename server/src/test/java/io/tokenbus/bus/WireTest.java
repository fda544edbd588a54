package io.tokenbus.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Records as they cross between nodes on the event bus: read back equal, nothing lost. */
@DisplayName("Wire")
class WireTest {

  private static GenerationRequest roundTrip(GenerationRequest request) {
    Buffer buffer = Buffer.buffer();
    Wire.writeRequest(new Wire.Writer(buffer), request);
    return Wire.readRequest(new Wire.Reader(buffer));
  }

  @Test
  @DisplayName(
      "a generation request keeps its metadata, keys in their order, across nodes; none reads as"
          + " an empty map")
  void requestMetadata() {
    GenerationRequest tagged =
        new GenerationRequest(
            "mock",
            new JsonObject().put("model", "mock").put("messages", List.of("ü")),
            10,
            12.5,
            new SessionLink("sess_1", "m1", "chatcmpl-1"),
            new Creator("acme", "acme#1"),
            Map.of("team", "a", "ticket", "é-42", "empty", ""));
    GenerationRequest read = roundTrip(tagged);
    assertEquals(tagged, read);
    assertEquals(List.copyOf(tagged.metadata().keySet()), List.copyOf(read.metadata().keySet()));

    GenerationRequest plain =
        new GenerationRequest("mock", new JsonObject(), null, null, Creator.ANONYMOUS);
    assertEquals(plain, roundTrip(plain));
    assertEquals(Map.of(), roundTrip(plain).metadata());
  }
}
