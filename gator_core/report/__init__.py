"""What a person reads (layer 7): the console, live progress, trees and JUnit.

May import: every layer below it.
"""
