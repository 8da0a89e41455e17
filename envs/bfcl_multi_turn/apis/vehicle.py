"""``VehicleControlAPI``: a car's engine, doors, climate, lights, brakes, cruise control and
navigation (BFCL's vehicle suite).

State compared by the checker: every public attribute (``fuelLevel``, ``batteryVoltage``,
``engine_state``, ``remainingUnlockedDoors``, ``doorStatus``, ``acTemperature``, ``fanSpeed``,
``acMode``, ``humidityLevel``, ``headLightStatus``, ``parkingBrakeStatus``, ``brakePedalStatus``,
``distanceToNextVehicle``, ``cruiseStatus``, ``destination``, the four tire pressures and
``long_context``). Brake forces and the slope angle are private, as in BFCL. Sensor readings
(outside temperature, speed) come from a generator seeded by ``random_seed`` (141053).
"""

from __future__ import annotations

from typing import Any

from lfmgym.envs.bfcl_multi_turn.apis import long_context as lc
from lfmgym.envs.bfcl_multi_turn.apis.base import Suite

__all__ = ["VehicleControlAPI", "CITY_ZIPCODES", "ZIP_DISTANCES"]

MAX_FUEL_LEVEL = 50
MIN_FUEL_LEVEL = 0.0
MILES_PER_GALLON = 20.0

CITY_ZIPCODES = {"Rivermist": "83214", "Stonebrook": "74532", "Maplecrest": "56108", "Silverpine": "62947",
                 "Shadowridge": "71354", "Sunset Valley": "83462", "Oakendale": "47329", "Willowbend": "52013",
                 "Crescent Hollow": "69238", "Autumnville": "51479", "San Francisco": "94016"}
# Distances in km between zip codes (either direction).
ZIP_DISTANCES = {("83214", "74532"): 750.0, ("56108", "62947"): 320.0, ("71354", "83462"): 450.0,
                 ("47329", "52013"): 290.0, ("69238", "51479"): 630.0, ("94016", "83214"): 980.0,
                 ("94016", "94704"): 600.0, ("94704", "08540"): 2550.0, ("94016", "08540"): 1950.0,
                 ("62947", "47329"): 1053.0, ("94016", "62947"): 780.0, ("74532", "94016"): 880.0}

_DOORS = {"driver": "unlocked", "passenger": "unlocked", "rear_left": "unlocked", "rear_right": "unlocked"}


class VehicleControlAPI(Suite):
    name = "VehicleControlAPI"
    doc_file = "vehicle_control.json"
    # attribute -> (initial_config key, default)
    _FIELDS = {
        "fuelLevel": ("fuelLevel", 0.0), "batteryVoltage": ("batteryVoltage", 12.6),
        "engine_state": ("engineState", "stopped"), "remainingUnlockedDoors": ("remainingUnlockedDoors", 4),
        "doorStatus": ("doorStatus", _DOORS), "acTemperature": ("acTemperature", 25.0),
        "fanSpeed": ("fanSpeed", 50), "acMode": ("acMode", "auto"), "humidityLevel": ("humidityLevel", 50.0),
        "headLightStatus": ("headLightStatus", "off"), "parkingBrakeStatus": ("parkingBrakeStatus", "released"),
        "_parkingBrakeForce": ("parkingBrakeForce", 0.0), "_slopeAngle": ("slopeAngle", 0.0),
        "brakePedalStatus": ("brakePedalStatus", "released"), "_brakePedalForce": ("brakePedalForce", 0.0),
        "distanceToNextVehicle": ("distanceToNextVehicle", 50.0), "cruiseStatus": ("cruiseStatus", "inactive"),
        "destination": ("destination", "None"), "frontLeftTirePressure": ("frontLeftTirePressure", 32.0),
        "frontRightTirePressure": ("frontRightTirePressure", 32.0),
        "rearLeftTirePressure": ("rearLeftTirePressure", 30.0), "rearRightTirePressure": ("rearRightTirePressure", 30.0),
    }

    def _load_scenario(self, scenario: dict[str, Any], long_context: bool = False) -> None:
        import copy

        scenario = copy.deepcopy(scenario or {})
        self._random = self._seeded(scenario, 141053)
        for attr, (key, default) in self._FIELDS.items():
            setattr(self, attr, scenario.get(key, copy.deepcopy(default)))
        self.remainingUnlockedDoors = 4 - sum(1 for s in self.doorStatus.values() if s == "locked")
        self.long_context = long_context

    def startEngine(self, ignitionMode: str) -> dict[str, Any]:
        if ignitionMode == "STOP":
            self.engine_state = "stopped"
        if self.remainingUnlockedDoors > 0:
            unlocked = ", ".join(d for d, s in self.doorStatus.items() if s == "unlocked")
            return {"error": f"All doors must be locked before starting the engine. Here are the unlocked doors: {unlocked}"}
        if self.brakePedalStatus != "pressed":
            return {"error": "Brake pedal needs to be pressed when starting the engine."}
        if self._brakePedalForce != 1000.0:
            return {"error": "Must press the brake fully before starting the engine."}
        if self.fuelLevel < MIN_FUEL_LEVEL:
            return {"error": "Fuel tank is empty."}
        if ignitionMode != "START":
            return {"error": "Invalid ignition mode."}
        self.engine_state = "running"
        return {"engineState": self.engine_state, "fuelLevel": self.fuelLevel, "batteryVoltage": self.batteryVoltage}

    def fillFuelTank(self, fuelAmount: float) -> dict[str, Any]:
        if fuelAmount < 0:
            return {"error": "Fuel amount cannot be negative."}
        if self.fuelLevel + fuelAmount > MAX_FUEL_LEVEL:
            return {"error": "Cannot fill gas above the tank capacity."}
        if self.fuelLevel + fuelAmount < MIN_FUEL_LEVEL:
            return {"error": "Fuel tank is empty. Min fuel level is 0 gallons."}
        self.fuelLevel += fuelAmount
        return {"fuelLevel": self.fuelLevel}

    def lockDoors(self, unlock: bool, door: list[str]) -> dict[str, Any]:
        wanted = "unlocked" if unlock else "locked"
        for d in door:
            if self.doorStatus[d] == wanted:
                continue
            self.doorStatus[d] = wanted
            self.remainingUnlockedDoors += 1 if unlock else -1
        return {"lockStatus": wanted, "remainingUnlockedDoors": self.remainingUnlockedDoors}

    def adjustClimateControl(self, temperature: float, unit: str = "celsius", fanSpeed: int = 50,
                             mode: str = "auto") -> dict[str, Any]:
        if not 0 <= fanSpeed <= 100:
            return {"error": "Fan speed must be between 0 and 100."}
        self.acTemperature = (temperature - 32) * 5 / 9 if unit == "fahrenheit" else temperature
        self.fanSpeed = fanSpeed
        self.acMode = mode
        return {"currentACTemperature": temperature, "climateMode": mode, "humidityLevel": self.humidityLevel}

    def get_outside_temperature_from_google(self) -> dict[str, Any]:
        reading = self._random.uniform(-10.0, 40.0)
        if self.long_context:
            return {**lc.weather_report(), "outsideTemperature": reading}
        return {"outsideTemperature": reading}

    def get_outside_temperature_from_weather_com(self) -> dict[str, Any]:
        return {"error": 404}

    def setHeadlights(self, mode: str) -> dict[str, str]:
        if mode not in ("on", "off", "auto"):
            return {"error": "Invalid headlight mode."}
        self.headLightStatus = "on" if mode == "on" else "off"
        return {"headlightStatus": self.headLightStatus}

    def displayCarStatus(self, option: str) -> dict[str, Any]:
        status: dict[str, Any] = {"metadata": lc.car_metadata()} if self.long_context else {}
        views = {
            "fuel": lambda: {"fuelLevel": self.fuelLevel},
            "battery": lambda: {"batteryVoltage": self.batteryVoltage},
            "doors": lambda: {"doorStatus": self.doorStatus},
            "climate": lambda: {"currentACTemperature": self.acTemperature, "fanSpeed": self.fanSpeed,
                                "climateMode": self.acMode, "humidityLevel": self.humidityLevel},
            "headlights": lambda: {"headlightStatus": self.headLightStatus},
            "parkingBrake": lambda: {"parkingBrakeStatus": self.parkingBrakeStatus,
                                     "parkingBrakeForce": self._parkingBrakeForce, "slopeAngle": self._slopeAngle},
            "brakePedal": lambda: {"brakePedalStatus": self.brakePedalStatus,
                                   "brakePedalForce": self._brakePedalForce},
            "engine": lambda: {"engineState": self.engine_state},
        }
        status.update(views[option]() if option in views else {"error": "Invalid option"})
        return status

    def activateParkingBrake(self, mode: str) -> dict[str, Any]:
        if mode not in ("engage", "release"):
            return {"error": "Invalid mode"}
        engaged = mode == "engage"
        self.parkingBrakeStatus = "engaged" if engaged else "released"
        self._parkingBrakeForce = 500.0 if engaged else 0.0
        self._slopeAngle = 10.0
        result = {"parkingBrakeStatus": self.parkingBrakeStatus, "_parkingBrakeForce": self._parkingBrakeForce,
                  "_slopeAngle": 10.0}
        return {"parkingBrakeInstruction": lc.parking_brake_manual(), **result} if self.long_context else result

    def pressBrakePedal(self, pedalPosition: float) -> dict[str, Any]:
        if not 0 <= pedalPosition <= 1:
            return {"error": "Pedal position must be between 0 and 1."}
        if pedalPosition == 0:
            return self.releaseBrakePedal()
        self.brakePedalStatus = "pressed"
        self._brakePedalForce = pedalPosition * 1000
        return {"brakePedalStatus": "pressed", "brakePedalForce": float(self._brakePedalForce)}

    def releaseBrakePedal(self) -> dict[str, Any]:
        self.brakePedalStatus = "released"
        self._brakePedalForce = 0.0
        return {"brakePedalStatus": "released", "brakePedalForce": 0.0}

    def setCruiseControl(self, speed: float, activate: bool, distanceToNextVehicle: float) -> dict[str, Any]:
        distance, speed = float(distanceToNextVehicle), float(speed)
        if self.engine_state == "stopped":
            return {"error": "Start the engine before activating the cruise control."}
        self.distanceToNextVehicle = distance
        if activate:
            if speed < 0 or speed > 120 or speed % 5 != 0:
                return {"error": "Invalid speed"}
            self.cruiseStatus = "active"
        else:
            self.cruiseStatus = "inactive"
        return {"cruiseStatus": self.cruiseStatus, "currentSpeed": speed, "distanceToNextVehicle": distance}

    def get_current_speed(self) -> dict[str, float]:
        return {"currentSpeed": self._random.uniform(0.0, 120.0)}

    def display_log(self, messages: list[str]) -> dict[str, Any]:
        return {"log": messages}

    def estimate_drive_feasibility_by_mileage(self, distance: float) -> dict[str, bool]:
        return {"canDrive": not self.fuelLevel * MILES_PER_GALLON < distance}

    def liter_to_gallon(self, liter: float) -> dict[str, float]:
        return {"gallon": liter * 0.264172}

    def gallon_to_liter(self, gallon: float) -> dict[str, float]:
        return {"liter": gallon * 3.78541}

    def estimate_distance(self, cityA: str, cityB: str) -> dict[str, Any]:
        km = ZIP_DISTANCES.get((cityA, cityB), ZIP_DISTANCES.get((cityB, cityA)))
        result: dict[str, Any] = {"distance": km} if km is not None else {"error": "distance not found in database."}
        if self.long_context:
            result["intermediaryCities"] = list(lc.intermediary_cities())
        return result

    def get_zipcode_based_on_city(self, city: str) -> dict[str, str]:
        return {"zipcode": CITY_ZIPCODES.get(city, "00000")}

    def set_navigation(self, destination: str) -> dict[str, str]:
        self.destination = destination
        return {"status": "Navigating to " + destination}

    def check_tire_pressure(self) -> dict[str, Any]:
        pressures = {"frontLeftTirePressure": self.frontLeftTirePressure,
                     "frontRightTirePressure": self.frontRightTirePressure,
                     "rearLeftTirePressure": self.rearLeftTirePressure,
                     "rearRightTirePressure": self.rearRightTirePressure}
        healthy = 30 <= sum(pressures.values()) / 4 <= 35
        return {**pressures, "healthy_tire_pressure": healthy, "car_info": lc.car_metadata() if self.long_context else {}}

    def find_nearest_tire_shop(self) -> dict[str, str]:
        return {"shopLocation": "456 Oakwood Avenue, Rivermist, 83214"}
