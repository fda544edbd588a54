package io.tokenbus.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class SeamTrimmerTest {

  private static String run(String partial, List<String> pieces) {
    SeamTrimmer trimmer = new SeamTrimmer(partial);
    StringBuilder out = new StringBuilder();
    pieces.forEach(p -> out.append(trimmer.feed(p)));
    return out.append(trimmer.flush()).toString();
  }

  @Test
  @DisplayName(
      "a continuation that repeats the end of the partial answer loses the repeat, however it is cut")
  void trimsTheRepeatedEnd() {
    assertEquals(
        " lazy dog.",
        run("The quick brown fox jumps over the", List.of(" over", " the", " lazy", " dog.")));
    assertEquals(
        " lazy dog.",
        run("The quick brown fox jumps over the", List.of(" ov", "er the la", "zy dog.")));
    assertEquals(
        " lazy dog.",
        run("The quick brown fox jumps over the", List.of("jumps over the lazy dog.")),
        "a repeat of several words, in one piece");
  }

  @Test
  @DisplayName(
      "a continuation that repeats nothing flows on unchanged, and is not held once it cannot be a repeat")
  void passesNewTextThrough() {
    assertEquals(
        " lazy dog.", run("The quick brown fox jumps over the", List.of(" lazy", " dog.")));
    SeamTrimmer trimmer = new SeamTrimmer("Hello world");
    assertEquals(
        "Zebra", trimmer.feed("Zebra"), "text that occurs nowhere in the tail is emitted at once");
    assertEquals(" stripes", trimmer.feed(" stripes"));
  }

  @Test
  @DisplayName(
      "white space the partial answer ended with (stripped from an Anthropic prefill) is not doubled")
  void whiteSpaceAtTheSeam() {
    assertEquals(
        "Next paragraph.", run("First paragraph.\n\n", List.of("\n\n", "Next", " paragraph.")));
    assertEquals("world", run("Hello ", List.of(" world")));
  }

  @Test
  @DisplayName("a continuation made only of a repeat yields nothing")
  void onlyARepeat() {
    assertEquals("", run("abc def", List.of("def")));
    assertEquals("", run("abc def", List.of()));
  }

  @Test
  @DisplayName("a break inside a word or a number is not a repeat: nothing is trimmed")
  void breaksInsideWords() {
    assertEquals("0 in Rome.", run("In the year 200", List.of("0 in Rome.")));
    assertEquals("ok now.", run("Open the bo", List.of("ok now.")));
    assertEquals("aab", run("a", List.of("a", "a", "b")));
    assertEquals(
        " in Rome.",
        run("In the year 2000", List.of("2000 in Rome.")),
        "a whole number repeated is trimmed");
  }
}
