package io.tokenbus.generation;

/** An append by a writer whose ownership of the generation has been taken over. */
public final class StaleEpochException extends RuntimeException {

  public StaleEpochException(String generation, long writerEpoch, long currentEpoch) {
    super(
        "generation "
            + generation
            + " is at epoch "
            + currentEpoch
            + ", writer has epoch "
            + writerEpoch,
        null,
        false,
        false);
  }

  /** When the store only knows the writer's epoch is no longer the current one. */
  public StaleEpochException(String generation, long writerEpoch) {
    super(
        "generation " + generation + " has a newer owner than epoch " + writerEpoch,
        null,
        false,
        false);
  }
}
