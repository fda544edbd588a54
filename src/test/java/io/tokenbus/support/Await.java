package io.tokenbus.support;

import io.vertx.core.Future;
import java.util.concurrent.TimeUnit;

/** Blocks the test thread (never an event loop) on a future, with a bound. */
public final class Await {

  private Await() {
  }

  public static <T> T await(Future<T> future) {
    return await(future, 20);
  }

  public static <T> T await(Future<T> future, int seconds) {
    try {
      return future.await(seconds, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("timed out after " + seconds + " s", e);
    }
  }
}
