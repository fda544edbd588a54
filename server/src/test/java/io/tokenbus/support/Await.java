package io.tokenbus.support;

import io.vertx.core.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Blocks the test thread (never an event loop) on a future, with a bound. */
public final class Await {

  private Await() {}

  public static <T> T await(Future<T> future) {
    return await(future, 20);
  }

  public static <T> T await(Future<T> future, int seconds) {
    return await(future, seconds, "future");
  }

  /** What {@code future} failed with, or null if it succeeded: for what must fail. */
  public static Throwable failure(Future<?> future, String what) {
    return await(
        future.transform(ar -> Future.succeededFuture(ar.failed() ? ar.cause() : null)), 20, what);
  }

  /** The same, naming what is awaited in the failure, for tests with many steps. */
  public static <T> T await(Future<T> future, int seconds, String what) {
    try {
      return future.await(seconds, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError(what + ": timed out after " + seconds + " s", e);
    } catch (RuntimeException e) {
      throw new AssertionError(what + ": " + e, e);
    }
  }
}
