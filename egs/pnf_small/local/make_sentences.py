"""Print seeded random English sentences, one per line, for espeak-ng to speak.

Usage: python make_sentences.py <count> <seed>
"""
import random
import sys

SUBJECTS = ["the old sailor", "a quiet student", "my neighbour", "the small dog", "our teacher", "the farmer",
            "a tired driver", "the young painter", "her brother", "the museum guard", "a curious child",
            "the baker", "his grandmother", "the night nurse", "a travelling singer"]
VERBS = ["carried", "painted", "found", "opened", "watched", "described", "remembered", "repaired", "sold",
         "borrowed", "measured", "followed", "cleaned", "counted", "forgot"]
OBJECTS = ["a wooden box", "the yellow kite", "seven green bottles", "the broken clock", "a map of the river",
           "the heavy suitcase", "two silver spoons", "an empty basket", "the letter from Paris",
           "a bag of apples", "the garden gate", "three paper lanterns", "the morning newspaper"]
ENDINGS = ["before the rain started", "in the middle of the night", "near the station", "without a word",
           "after dinner", "on a cold Monday", "while the bells were ringing", "at the edge of town",
           "with great care", "for the second time", "just after sunrise", "under the bridge"]


def main():
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    for _ in range(count):
        sentence = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(ENDINGS)}"
        if rng.random() < 0.3:
            sentence += f", and {rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
        print(sentence[0].upper() + sentence[1:] + rng.choice([".", ".", "?", "!"]))


if __name__ == "__main__":
    main()
