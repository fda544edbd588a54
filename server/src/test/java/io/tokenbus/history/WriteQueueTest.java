package io.tokenbus.history;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vertx.core.impl.NoStackTraceException;
import io.vertx.core.impl.NoStackTraceTimeoutException;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.ClosedConnectionException;
import java.net.ConnectException;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("The write queue tells a database that is away from a write that is refused")
class WriteQueueTest {

  @Test
  @DisplayName("connection, resource and shutdown states are transient; a refusal is not")
  void classify() {
    assertEquals(
        WriteQueue.Failing.TRANSIENT,
        WriteQueue.classify(new PgException("gone", "FATAL", "57P01", null)));
    assertEquals(
        WriteQueue.Failing.TRANSIENT,
        WriteQueue.classify(new PgException("no", "FATAL", "08006", null)));
    assertEquals(
        WriteQueue.Failing.PERMANENT,
        WriteQueue.classify(new PgException("bad", "ERROR", "22021", null)));
    assertEquals(
        WriteQueue.Failing.TRANSIENT, WriteQueue.classify(new ConnectException("refused")));
    assertEquals(
        WriteQueue.Failing.TRANSIENT, WriteQueue.classify(ClosedConnectionException.INSTANCE));
    assertEquals(
        WriteQueue.Failing.TRANSIENT,
        WriteQueue.classify(new NoStackTraceTimeoutException("timeout")));
    // A bug of ours, or a parameter the client could not bind, is neither: tried a few times,
    // then alone, then dropped, so it never holds up every later write.
    assertEquals(WriteQueue.Failing.UNKNOWN, WriteQueue.classify(new NoStackTraceException("x")));
    assertEquals(WriteQueue.Failing.UNKNOWN, WriteQueue.classify(new IllegalStateException("x")));
  }
}
