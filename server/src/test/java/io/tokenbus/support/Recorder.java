package io.tokenbus.support;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Predicate;

/**
 * Collects items from any thread and lets a test wait for a condition on them, without sleeping.
 */
public final class Recorder<T> {

  private final List<T> items = new ArrayList<>();
  private final List<Waiter<T>> waiters = new ArrayList<>();

  private record Waiter<T>(Predicate<List<T>> condition, Promise<List<T>> promise) {}

  public synchronized void add(T item) {
    items.add(item);
    check();
  }

  public synchronized List<T> items() {
    return List.copyOf(items);
  }

  public synchronized int size() {
    return items.size();
  }

  /** Completes with a copy of the items once {@code condition} holds for them. */
  public synchronized Future<List<T>> when(Predicate<List<T>> condition) {
    Promise<List<T>> promise = Promise.promise();
    waiters.add(new Waiter<>(condition, promise));
    check();
    return promise.future();
  }

  public Future<List<T>> whenCount(int count) {
    return when(list -> list.size() >= count);
  }

  /**
   * Completes with the first item that matches; each item is tested once (streams of many thousands
   * record here).
   */
  public Future<T> whenAny(Predicate<T> match) {
    int[] tested = {0};
    return when(list -> {
          for (; tested[0] < list.size(); tested[0]++) {
            if (match.test(list.get(tested[0]))) {
              return true;
            }
          }
          return false;
        })
        .map(list -> list.stream().filter(match).findFirst().orElseThrow());
  }

  private void check() {
    // Completed after the loop: a waiter's callback may add a waiter or an item on this thread.
    List<Waiter<T>> met = new ArrayList<>();
    for (Iterator<Waiter<T>> it = waiters.iterator(); it.hasNext(); ) {
      Waiter<T> waiter = it.next();
      if (waiter.condition().test(items)) {
        it.remove();
        met.add(waiter);
      }
    }
    met.forEach(waiter -> waiter.promise().tryComplete(List.copyOf(items)));
  }
}
