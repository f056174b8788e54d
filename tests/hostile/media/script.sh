#!/bin/sh
echo relais-hostile-pwned
