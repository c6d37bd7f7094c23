// Two units on one broker (…a. and …b.) where three members make a large group (its messages
// carry a seq, its list entry is computed on read) and peak shaving never holds a history
// written in one go back, started once for the scenarios below, each with its own users and
// conversations (test/integration/units/): moving a conversation under traffic, reads through
// the unit that only routes a conversation, a user's home unit.

import { movingUnderTraffic } from './units/move.js'
import { readsThroughRoutingUnit } from './units/remote-reads.js'
import { usersHomeUnit } from './units/user-home.js'
import { shareUnits } from './units-support.js'

const units = shareUnits(2, {
  IMFLOW_LARGE_GROUP_THRESHOLD: '2',
  IMFLOW_SHAPING_CAPACITY: '1000000',
})

movingUnderTraffic(units)
readsThroughRoutingUnit(units)
usersHomeUnit(units)
