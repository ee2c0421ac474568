/* empty.c - keeps a component library valid before its sources exist. */
typedef int t5__empty_translation_unit;
