package io.tokenbus.generation;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Generation encoding")
class GenerationEncoderTest {

  @Test
  @DisplayName("a token with line breaks becomes one data: line per line")
  void dataLines() {
    assertEquals("data: a\ndata: b\n", GenerationEncoder.dataLines("a\nb"));
    assertEquals("data: \ndata: \ndata: \n", GenerationEncoder.dataLines("\n\n"));
    assertEquals("data:  x\n", GenerationEncoder.dataLines(" x"));
    assertEquals("data: a\ndata: b\n", GenerationEncoder.dataLines("a\r\nb"));
  }
}
