// Three units on one broker (…a., …b., …c.), each listing the others' topics and APIs, where
// three members make a large group (its messages carry a seq) and peak shaving holds nothing
// back, started once for the scenarios below, each with its own users and conversations
// (test/integration/units/): a routing unit answering as the home does, two moves at once.

import { twoMovesAtOnce } from './units/move-race.js'
import { routingUnitAnswers } from './units/routing.js'
import { shareUnits } from './units-support.js'

const units = shareUnits(3, {
  IMFLOW_LARGE_GROUP_THRESHOLD: '2',
  IMFLOW_SHAPING_CAPACITY: '1000000',
})

routingUnitAnswers(units)
twoMovesAtOnce(units)
