package lsn

// TimeLineID identifies a timeline. A cluster starts on timeline 1 and every
// promotion moves it to a new, higher one.
type TimeLineID uint32
