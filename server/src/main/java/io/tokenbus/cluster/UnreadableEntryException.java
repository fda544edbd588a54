package io.tokenbus.cluster;

import com.hazelcast.spi.exception.SilentException;
import java.util.Map;

/**
 * Thrown by an entry processor that finds a value of a type its store never writes there: the
 * caller treats the entry as absent ({@link ProcessedMap}). Silent, so the member that ran the
 * processor does not log it as an error on every call; the caller logs it once per key.
 */
final class UnreadableEntryException extends RuntimeException implements SilentException {

  UnreadableEntryException(Class<?> found) {
    super("holds a " + found.getName(), null, false, false);
  }

  /** The entry's value as {@code type}: null when absent; thrown when of another type. */
  static <V> V value(Map.Entry<String, V> entry, Class<V> type) {
    Object value = ((Map.Entry<?, ?>) entry).getValue();
    if (value == null || type.isInstance(value)) {
      return type.cast(value);
    }
    throw new UnreadableEntryException(value.getClass());
  }
}
