// Two units on one broker (…a. and …b.), started once for the scenarios below, each with its own
// users and conversations (test/integration/units/): a user's home moving with thousands of
// private messages, acting from one's own unit, a client following its user's home, sending
// through one's unit while the conversation moves into it, members changed through it
// meanwhile, the stream a moved user leaves at her old home. The packed move comes first: it
// counts the records written to unit 0's inbound while it runs.

import { actingFromHome } from './units/act-from-home.js'
import { clientFollowsHome } from './units/client-move.js'
import { sendingWhileMovingIn } from './units/move-home.js'
import { membersChangedWhileMoving } from './units/move-members.js'
import { userMovePacked } from './units/user-move-packed.js'
import { streamEndsAtOldHome } from './units/user-move-stream.js'
import { shareUnits } from './units-support.js'

const units = shareUnits(2)

userMovePacked(units)
actingFromHome(units)
clientFollowsHome(units)
sendingWhileMovingIn(units)
membersChangedWhileMoving(units)
streamEndsAtOldHome(units)
