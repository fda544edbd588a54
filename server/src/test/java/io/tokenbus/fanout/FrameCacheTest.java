package io.tokenbus.fanout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.tokenbus.bus.GenerationEvent;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("The frame cache encodes each event once, wherever its seqs start")
class FrameCacheTest {

  /** A source that counts its encodings. */
  private static final class Counting implements StreamSource<GenerationEvent> {
    final AtomicInteger encoded = new AtomicInteger();

    @Override
    public String address() {
      return "test";
    }

    @Override
    public String id() {
      return "test";
    }

    @Override
    public Future<List<GenerationEvent>> readAfter(long cursor) {
      return Future.succeededFuture(List.of());
    }

    @Override
    public Buffer encode(WireFormat format, GenerationEvent event) {
      encoded.incrementAndGet();
      return Buffer.buffer(event.seq() + ":" + event.text());
    }

    @Override
    public String foldKey(GenerationEvent event) {
      return null;
    }

    @Override
    public String text(GenerationEvent event) {
      return event.text();
    }

    @Override
    public GenerationEvent folded(GenerationEvent last, String text) {
      return last;
    }

    @Override
    public String goneReason() {
      return "gone";
    }
  }

  @Test
  @DisplayName("seqs past a billion (a rebuilt session) are cached without padding up to them")
  void highSeqs() {
    Counting source = new Counting();
    FrameCache<GenerationEvent> cache = new FrameCache<>(source);
    long base = 3_000_000_000L; // past int: an index from seq 1 would not even fit
    Buffer live = cache.frame(WireFormat.SSE, GenerationEvent.delta(base + 5, "e"));
    Buffer earlier = cache.frame(WireFormat.SSE, GenerationEvent.delta(base + 1, "a"));
    assertSame(live, cache.frame(WireFormat.SSE, GenerationEvent.delta(base + 5, "e")));
    assertSame(earlier, cache.frame(WireFormat.SSE, GenerationEvent.delta(base + 1, "a")));
    assertEquals(2, source.encoded.get());
    assertEquals(
        (base + 3) + ":c",
        cache.frame(WireFormat.WEBSOCKET, GenerationEvent.delta(base + 3, "c")).toString());
  }

  @Test
  @DisplayName("a seq far from the cached ones is encoded without being cached")
  void farSeq() {
    Counting source = new Counting();
    FrameCache<GenerationEvent> cache = new FrameCache<>(source);
    cache.frame(WireFormat.SSE, GenerationEvent.delta(1, "a"));
    long far = 1 + FrameCache.MAX_GAP * 4L;
    cache.frame(WireFormat.SSE, GenerationEvent.delta(far, "z"));
    cache.frame(WireFormat.SSE, GenerationEvent.delta(far, "z"));
    assertEquals(3, source.encoded.get());
  }
}
