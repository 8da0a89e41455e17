"""Generated requests for trading, travel booking, vehicle control and math."""

from __future__ import annotations

from lfmgym.envs.bfcl_multi_turn.apis.travel import CITY_AIRPORTS, ROUTES
from lfmgym.envs.bfcl_multi_turn.apis.vehicle import CITY_ZIPCODES, ZIP_DISTANCES
from lfmgym.envs.bfcl_multi_turn.plan import Intent, Plan, Rejected
from lfmgym.envs.bfcl_multi_turn.worlds import PEOPLE, WORDS

_COMPANIES = {"Apple": "AAPL", "Google": "GOOG", "Tesla": "TSLA", "Microsoft": "MSFT", "Nvidia": "NVDA",
              "Zeta Corp": "ZETA", "Alpha Tech": "ALPH", "Omega Industries": "OMEG", "Neptune Systems": "NEPT"}


def _trade_login(p: Plan) -> str:
    if p.suite("TradingBot").authenticated:
        return ""
    user = p.rng.choice(PEOPLE)
    password = f"{p.rng.choice(WORDS)}{p.rng.randint(10, 99)}"
    p.call("trading_login", username=user, password=password)
    return f" My trading login is {user} / {password}."


def tr_price(p: Plan) -> Intent:
    company = p.rng.choice(list(_COMPANIES))
    symbol = p.call("get_symbol_by_name", name=company)["symbol"]
    p.call("get_stock_info", symbol=symbol)
    return Intent(f"What is {company}'s stock doing right now? Look up its symbol first.", p.calls)


def tr_buy(p: Plan) -> Intent:
    login = _trade_login(p)
    company = p.rng.choice(list(_COMPANIES))
    symbol = p.call("get_symbol_by_name", name=company)["symbol"]
    price = p.call("get_stock_info", symbol=symbol)["price"]
    amount = p.rng.randint(1, 5)
    p.call("place_order", order_type="Buy", symbol=symbol, price=price, amount=amount)
    return Intent(f"Buy {amount} shares of {company} at its current price.{login}", p.calls,
                  (f"Buy some shares of {company} at its current price.{login}", f"Buy {amount} shares."))


def tr_watch(p: Plan) -> Intent:
    company = p.rng.choice(list(_COMPANIES))
    symbol = p.call("get_symbol_by_name", name=company)["symbol"]
    p.call("add_to_watchlist", stock=symbol)
    return Intent(f"Add {company} to my watchlist.", p.calls)


def tr_fund(p: Plan) -> Intent:
    login = _trade_login(p)
    amount = float(p.rng.randint(1, 40) * 50)
    p.call("fund_account", amount=amount)
    return Intent(f"Deposit ${amount:.0f} into my trading account.{login}", p.calls,
                  (f"Deposit some money into my trading account.{login}", f"Deposit ${amount:.0f}."))


def _travel_login(p: Plan) -> str:
    t = p.suite("TravelAPI")
    if t.access_token:
        return t.access_token
    p.call("authenticate_travel", client_id=f"client_{p.rng.randint(100, 999)}", client_secret="s3cr3t",
           refresh_token="refresh_01", grant_type="read_write", user_first_name=t.user_first_name,
           user_last_name=t.user_last_name)
    return t.access_token


def _route(p: Plan) -> tuple[str, str, str, str]:
    by_code = {code: city for city, code in CITY_AIRPORTS.items()}
    pairs = [(a, b) for a, b in ROUTES if a in by_code and b in by_code]
    a, b = p.rng.choice(pairs)
    return by_code[a], by_code[b], a, b


def tv_cost(p: Plan) -> Intent:
    city_a, city_b, _, _ = _route(p)
    date, cls = f"2024-{p.rng.randint(1, 12):02d}-{p.rng.randint(1, 28):02d}", p.rng.choice(("economy", "business", "first"))
    a = p.call("get_nearest_airport_by_city", location=city_a)["nearest_airport"]
    b = p.call("get_nearest_airport_by_city", location=city_b)["nearest_airport"]
    p.call("get_flight_cost", travel_from=a, travel_to=b, travel_date=date, travel_class=cls)
    return Intent(f"How much is a {cls} flight from {city_a} to {city_b} on {date}? Find the nearest airports first.", p.calls)


def tv_book(p: Plan) -> Intent:
    t = p.suite("TravelAPI")
    had_token = bool(t.access_token)
    token = _travel_login(p)
    city_a, city_b, a, b = _route(p)
    date = f"2024-{p.rng.randint(1, 12):02d}-{p.rng.randint(1, 28):02d}"
    card = next(iter(t.credit_card_list))
    p.call("book_flight", access_token=token, card_id=card, travel_date=date, travel_from=a, travel_to=b,
           travel_class="economy")
    login = "" if had_token else (f" Log me in first (client id {p.calls[0].kwargs['client_id']}, secret s3cr3t, "
                                  "refresh token refresh_01, grant type read_write, name "
                                  f"{t.user_first_name} {t.user_last_name}).")
    return Intent(f"Book an economy flight from {a} to {b} on {date} with my card {card}.{login}", p.calls)


def tv_exchange(p: Plan) -> Intent:
    cur, value = p.rng.choice(("EUR", "JPY", "GBP", "CAD", "INR")), float(p.rng.randint(1, 40) * 25)
    p.call("compute_exchange_rate", base_currency="USD", target_currency=cur, value=value)
    return Intent(f"How much is {value:.0f} USD in {cur}?", p.calls,
                  (f"How much is {value:.0f} US dollars in another currency?", f"I mean {cur}."))


def vh_start(p: Plan) -> Intent:
    car = p.suite("VehicleControlAPI")
    if car.engine_state == "running":
        raise Rejected("running")
    unlocked = [d for d, s in car.doorStatus.items() if s == "unlocked"]
    if unlocked:
        p.call("lockDoors", unlock=False, door=unlocked)
    p.call("pressBrakePedal", pedalPosition=1.0)
    p.call("startEngine", ignitionMode="START")
    return Intent("Start the car's engine. Lock any unlocked doors and press the brake fully first.", p.calls)


def vh_fuel(p: Plan) -> Intent:
    car = p.suite("VehicleControlAPI")
    room = int(50 - car.fuelLevel)
    if room < 5:
        raise Rejected("full")
    amount = float(p.rng.randint(5, room))
    p.call("fillFuelTank", fuelAmount=amount)
    return Intent(f"Put {amount:.0f} gallons of fuel in the tank.", p.calls,
                  ("Put some fuel in the tank.", f"Add {amount:.0f} gallons."))


def vh_lights(p: Plan) -> Intent:
    mode = p.rng.choice(("on", "off"))
    p.call("setHeadlights", mode=mode)
    return Intent(f"Turn the headlights {mode}.", p.calls)


def vh_climate(p: Plan) -> Intent:
    temp, fan = float(p.rng.randint(18, 26)), p.rng.choice((20, 40, 60, 80))
    p.call("adjustClimateControl", temperature=temp, unit="celsius", fanSpeed=fan)
    return Intent(f"Set the AC to {temp:.0f} degrees Celsius with the fan at {fan}.", p.calls,
                  (f"Set the AC with the fan at {fan}.", f"Make it {temp:.0f} degrees Celsius."))


def vh_distance(p: Plan) -> Intent:
    by_zip = {z: c for c, z in CITY_ZIPCODES.items()}
    pairs = [(a, b) for a, b in ZIP_DISTANCES if a in by_zip and b in by_zip]
    a, b = p.rng.choice(pairs)
    za = p.call("get_zipcode_based_on_city", city=by_zip[a])["zipcode"]
    zb = p.call("get_zipcode_based_on_city", city=by_zip[b])["zipcode"]
    p.call("estimate_distance", cityA=za, cityB=zb)
    return Intent(f"How far is {by_zip[a]} from {by_zip[b]}? Get both zip codes first.", p.calls)


def vh_navigate(p: Plan) -> Intent:
    place = f"{p.rng.randint(10, 999)} {p.rng.choice(('Oak', 'Pine', 'Lake', 'Hill'))} Street, {p.rng.choice(list(CITY_ZIPCODES))}"
    p.call("set_navigation", destination=place)
    return Intent(f"Navigate to {place}.", p.calls, ("Start the navigation.", f"The destination is {place}."))


def mt_mean(p: Plan) -> Intent:
    numbers = [float(p.rng.randint(1, 100)) for _ in range(p.rng.randint(3, 6))]
    p.call("mean", numbers=numbers)
    return Intent(f"What is the average of {', '.join(f'{x:g}' for x in numbers)}?", p.calls)


def mt_percentage(p: Plan) -> Intent:
    part, whole = float(p.rng.randint(1, 50)), float(p.rng.randint(51, 400))
    p.call("percentage", part=part, whole=whole)
    return Intent(f"What percentage of {whole:g} is {part:g}?", p.calls)


def mt_std(p: Plan) -> Intent:
    numbers = [float(p.rng.randint(1, 50)) for _ in range(p.rng.randint(3, 6))]
    p.call("standard_deviation", numbers=numbers)
    return Intent(f"Compute the standard deviation of {', '.join(f'{x:g}' for x in numbers)}.", p.calls)


def mt_convert(p: Plan) -> Intent:
    value = float(p.rng.randint(1, 500))
    unit_in, unit_out = p.rng.sample(["km", "m", "cm", "mm"], 2)
    p.call("si_unit_conversion", value=value, unit_in=unit_in, unit_out=unit_out)
    return Intent(f"Convert {value:g} {unit_in} to {unit_out}.", p.calls)


def _new_order(p: Plan) -> dict | None:
    bot = p.suite("TradingBot")
    before = int(p.initial.get("TradingBot", {}).get("order_counter", 12446))
    new = [o for i, o in bot.orders.items() if isinstance(i, int) and i >= before and o["status"] == "Open"]
    return new[-1] if new else None


def tr_cancel_new(p: Plan) -> Intent:
    order = _new_order(p)
    if order is None:
        raise Rejected("no order placed in this task")
    p.call("cancel_order", order_id=order["id"])
    return Intent("Actually, cancel the order you just placed.", p.calls)


def tr_cancel(p: Plan) -> Intent:
    bot = p.suite("TradingBot")
    login = _trade_login(p)
    options = [i for i, o in bot.orders.items() if o["status"] not in ("Completed", "Cancelled")]
    if not options:
        raise Rejected("nothing to cancel")
    order_id = p.rng.choice(options)
    p.call("get_order_details", order_id=order_id)
    p.call("cancel_order", order_id=order_id)
    return Intent(f"Show me order {order_id}, then cancel it.{login}", p.calls)


def tr_unwatch(p: Plan) -> Intent:
    bot = p.suite("TradingBot")
    login = _trade_login(p)
    if not bot.watch_list:
        raise Rejected("empty watch list")
    symbol = p.rng.choice(bot.watch_list)
    p.call("remove_stock_from_watchlist", symbol=symbol)
    return Intent(f"Take {symbol} off my watchlist.{login}", p.calls)


def tr_balance(p: Plan) -> Intent:
    login = _trade_login(p)
    p.call("get_account_info")
    return Intent(f"What is my trading account balance?{login}", p.calls)


def tr_withdraw(p: Plan) -> Intent:
    bot = p.suite("TradingBot")
    if bot.market_status != "Open":
        raise Rejected("market closed")
    login = _trade_login(p)
    amount = float(p.rng.randint(1, 10) * 100)
    p.call("withdraw_funds", amount=amount)
    return Intent(f"Withdraw ${amount:.0f} from my trading account.{login}", p.calls)


def _new_booking(p: Plan) -> tuple[str, dict] | None:
    t = p.suite("TravelAPI")
    before = set(p.initial.get("TravelAPI", {}).get("booking_record", {}))
    new = [(k, v) for k, v in t.booking_record.items() if k not in before]
    return new[-1] if new else None


def tv_insure_new(p: Plan) -> Intent:
    found = _new_booking(p)
    if found is None:
        raise Rejected("no booking in this task")
    booking_id, record = found
    cost = float(p.rng.choice((25, 40, 60)))
    p.call("purchase_insurance", access_token=p.suite("TravelAPI").access_token, insurance_type="comprehensive",
           booking_id=booking_id, insurance_cost=cost, card_id=record["card_id"])
    return Intent(f"Add comprehensive travel insurance for ${cost:.0f} to that booking, paid with the same card.", p.calls)


def tv_cancel_new(p: Plan) -> Intent:
    found = _new_booking(p)
    if found is None:
        raise Rejected("no booking in this task")
    p.call("cancel_booking", access_token=p.suite("TravelAPI").access_token, booking_id=found[0])
    return Intent("My plans changed: cancel the flight you just booked.", p.calls)


def tv_invoice_new(p: Plan) -> Intent:
    found = _new_booking(p)
    if found is None:
        raise Rejected("no booking in this task")
    p.call("retrieve_invoice", access_token=p.suite("TravelAPI").access_token, booking_id=found[0])
    return Intent("Get me the invoice for that booking.", p.calls)


def tv_budget(p: Plan) -> Intent:
    t = p.suite("TravelAPI")
    had_token = bool(t.access_token)
    token = _travel_login(p)
    limit = float(p.rng.randint(5, 40) * 100)
    p.call("set_budget_limit", access_token=token, budget_limit=limit)
    login = "" if had_token else (f" Log me in first (client id {p.calls[0].kwargs['client_id']}, secret s3cr3t, "
                                  "refresh token refresh_01, grant type read_write, name "
                                  f"{t.user_first_name} {t.user_last_name}).")
    return Intent(f"Set my travel budget limit to ${limit:.0f}.{login}", p.calls,
                  (f"Set a travel budget limit for me.{login}", f"Make it ${limit:.0f}."))


def tv_verify(p: Plan) -> Intent:
    t = p.suite("TravelAPI")
    born = f"{p.rng.randint(1960, 2000)}-{p.rng.randint(1, 12):02d}-{p.rng.randint(1, 28):02d}"
    passport = f"US{p.rng.randint(1000000, 9999999)}"
    p.call("verify_traveler_information", first_name=t.user_first_name, last_name=t.user_last_name,
           date_of_birth=born, passport_number=passport)
    return Intent(f"Check that I can travel: I am {t.user_first_name} {t.user_last_name}, born {born}, "
                  f"passport {passport}.", p.calls)


def vh_parking_brake(p: Plan) -> Intent:
    mode = p.rng.choice(("engage", "release"))
    p.call("activateParkingBrake", mode=mode)
    return Intent(f"{mode.capitalize()} the parking brake.", p.calls)


def vh_tires(p: Plan) -> Intent:
    p.call("check_tire_pressure")
    return Intent("Are my tires properly inflated?", p.calls)


def vh_cruise(p: Plan) -> Intent:
    car = p.suite("VehicleControlAPI")
    if car.engine_state != "running":
        raise Rejected("engine off")
    speed, gap = float(p.rng.choice((50, 60, 65, 70))), float(p.rng.choice((50, 80, 100)))
    p.call("setCruiseControl", speed=speed, activate=True, distanceToNextVehicle=gap)
    return Intent(f"Turn on cruise control at {speed:.0f} km/h, keeping {gap:.0f} m to the car ahead.", p.calls,
                  (f"Turn on cruise control, keeping {gap:.0f} m to the car ahead.", f"Set it to {speed:.0f} km/h."))


def vh_fuel_liters(p: Plan) -> Intent:
    car = p.suite("VehicleControlAPI")
    liters = float(p.rng.choice((10, 20, 30, 40)))
    gallons = p.call("liter_to_gallon", liter=liters)["gallon"]
    if car.fuelLevel + gallons > 50:
        raise Rejected("too much")
    p.call("fillFuelTank", fuelAmount=gallons)
    return Intent(f"Fill up {liters:.0f} liters of fuel (the tank counts in gallons, so convert first).", p.calls)


def vh_range(p: Plan) -> Intent:
    by_zip = {z: c for c, z in CITY_ZIPCODES.items()}
    pairs = [(a, b) for a, b in ZIP_DISTANCES if a in by_zip and b in by_zip]
    a, b = p.rng.choice(pairs)
    za = p.call("get_zipcode_based_on_city", city=by_zip[a])["zipcode"]
    zb = p.call("get_zipcode_based_on_city", city=by_zip[b])["zipcode"]
    km = p.call("estimate_distance", cityA=za, cityB=zb)["distance"]
    p.call("estimate_drive_feasibility_by_mileage", distance=km)
    return Intent(f"Can I drive from {by_zip[a]} to {by_zip[b]} on the fuel I have? Find the distance first.", p.calls)


def mt_arithmetic(p: Plan) -> Intent:
    a, b = float(p.rng.randint(2, 500)), float(p.rng.randint(2, 50))
    op, word = p.rng.choice((("add", "the sum of"), ("subtract", "the difference of"), ("multiply", "the product of"),
                             ("divide", "the quotient of")))
    p.call(op, a=a, b=b)
    return Intent(f"What is {word} {a:g} and {b:g}?", p.calls)


def mt_extremes(p: Plan) -> Intent:
    numbers = [float(p.rng.randint(-50, 200)) for _ in range(p.rng.randint(3, 6))]
    fn, word = p.rng.choice((("max_value", "largest"), ("min_value", "smallest"), ("sum_values", "total")))
    p.call(fn, numbers=numbers)
    return Intent(f"Give me the {word} of {', '.join(f'{x:g}' for x in numbers)}.", p.calls)


def mt_round_mean(p: Plan) -> Intent:
    numbers = [float(p.rng.randint(1, 100)) for _ in range(p.rng.randint(3, 5))]
    mean = p.call("mean", numbers=numbers)["result"]
    places = p.rng.randint(0, 2)
    p.call("round_number", number=mean, decimal_places=places)
    return Intent(f"Average {', '.join(f'{x:g}' for x in numbers)} and round the result to {places} decimal "
                  f"place{'s' * (places != 1)}.", p.calls)


def tr_cheap_tech(p: Plan) -> Intent:
    stocks = p.call("get_available_stocks", sector="Technology")["stock_list"]
    low, high = float(p.rng.choice((100, 200))), float(p.rng.choice((300, 400, 3000)))
    p.call("filter_stocks_by_price", stocks=stocks, min_price=low, max_price=high)
    return Intent(f"Which technology stocks trade between ${low:.0f} and ${high:.0f}?", p.calls)


def tr_watchlist(p: Plan) -> Intent:
    login = _trade_login(p)
    p.call("get_watchlist")
    return Intent(f"What is on my watchlist?{login}", p.calls)


def tv_card_balance(p: Plan) -> Intent:
    t = p.suite("TravelAPI")
    had_token = bool(t.access_token)
    token = _travel_login(p)
    card = next(iter(t.credit_card_list))
    p.call("get_credit_card_balance", access_token=token, card_id=card)
    login = "" if had_token else (f" Log me in first (client id {p.calls[0].kwargs['client_id']}, secret s3cr3t, "
                                  "refresh token refresh_01, grant type read_write, name "
                                  f"{t.user_first_name} {t.user_last_name}).")
    return Intent(f"What is the balance of my card {card}?{login}", p.calls)


def vh_status(p: Plan) -> Intent:
    option, word = p.rng.choice((("fuel", "fuel level"), ("doors", "door locks"), ("climate", "climate settings"),
                                 ("engine", "engine state"), ("battery", "battery voltage")))
    p.call("displayCarStatus", option=option)
    return Intent(f"Show me the car's {word}.", p.calls)


def mt_powers(p: Plan) -> Intent:
    kind = p.rng.choice(("log", "power", "root"))
    if kind == "log":
        value, base = float(p.rng.choice((8, 100, 1000, 81))), float(p.rng.choice((2, 10, 3)))
        p.call("logarithm", value=value, base=base, precision=6)
        return Intent(f"Compute log base {base:g} of {value:g} to 6 digits of precision.", p.calls)
    if kind == "power":
        base, exp = float(p.rng.randint(2, 9)), float(p.rng.randint(2, 5))
        p.call("power", base=base, exponent=exp)
        return Intent(f"What is {base:g} to the power of {exp:g}?", p.calls)
    number = float(p.rng.randint(2, 500))
    p.call("square_root", number=number, precision=8)
    return Intent(f"Give me the square root of {number:g} to 8 significant digits.", p.calls)


INTENTS = {
    "TradingBot": (tr_price, tr_buy, tr_watch, tr_fund, tr_cancel_new, tr_cancel, tr_unwatch, tr_balance, tr_withdraw,
                   tr_cheap_tech, tr_watchlist),
    "TravelAPI": (tv_cost, tv_book, tv_exchange, tv_insure_new, tv_cancel_new, tv_invoice_new, tv_budget, tv_verify,
                  tv_card_balance),
    "VehicleControlAPI": (vh_start, vh_fuel, vh_lights, vh_climate, vh_distance, vh_navigate, vh_parking_brake, vh_tires,
                          vh_cruise, vh_fuel_liters, vh_range, vh_status),
    "MathAPI": (mt_mean, mt_percentage, mt_std, mt_convert, mt_arithmetic, mt_extremes, mt_round_mean, mt_powers),
}
