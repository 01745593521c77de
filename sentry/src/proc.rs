//! /proc (to be written).
