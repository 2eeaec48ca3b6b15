"""The prose and receipt items the benchmark pages are drawn from (English, written for it)."""

from __future__ import annotations

PARAGRAPHS: tuple[str, ...] = (
    "Certain owners wish to permanently retire their boats before the winter of 2024, and the "
    "harbour office has agreed to buy back 17 moorings at a fixed price. Applications must reach "
    "us by Friday, 14 March; late forms will be kept on file for next season.",
    "The committee met on Tuesday evening in the Old Library. Mr. Hartley (treasurer) reported "
    "a surplus of $3,482.15 for the quarter, mostly from the summer fair. He warned, however, "
    "that the roof repairs quoted by Barnes & Sons would cost nearly twice that amount.",
    "Please note that invoice No. 88-2317 was issued in error. A corrected copy, dated 2 June, "
    "is enclosed with this letter. If you have already paid the original amount, the difference "
    "of 42.60 EUR will be credited to your account within ten working days.",
    "Water levels in the northern reservoir fell by 11% during July, the lowest reading since "
    "records began in 1953. Engineers expect a partial recovery after the autumn rains, but "
    "residents are asked to avoid watering gardens between 9 a.m. and 6 p.m. until further notice.",
    "Our new warehouse in Leeds opens on Monday. Orders placed before noon ship the same day; "
    "anything later goes out the next morning. Customers in Scotland and Wales should allow one "
    "extra day, and parcels over 30 kg still travel by pallet courier.",
    "Dr. Ayesha Khan will present the findings at the spring conference in Utrecht. Her team "
    "followed 1,206 patients for five years and found no significant difference between the two "
    "treatments (p = 0.41), although side effects were reported less often in the second group.",
    "The bridge on Station Road will be closed from 6 to 19 October for resurfacing. Buses 12 "
    "and 12A are diverted via Mill Lane; the stop outside the post office is suspended. Cyclists "
    "may dismount and use the footpath on the east side.",
    "Thank you for your letter of 21 April. We have checked the meter readings you sent and agree "
    "that the estimate was too high. Your next bill will show a refund of 118.75, and the monthly "
    "direct debit will drop from 96.00 to 74.50 from August onwards.",
    "Volunteers are needed for the beach clean on Saturday, 7 September. Meet at the lifeboat "
    "station at 8:30 sharp; gloves, bags and coffee are provided. Last year forty-two people "
    "collected more than 310 kilograms of plastic in under three hours!",
    "According to the survey, 64 percent of readers prefer the printed edition, while younger "
    "subscribers mostly read online. The editors will therefore keep the Sunday paper unchanged, "
    "but the weekday crossword moves to page 27 and the TV guide becomes a pull-out section.",
    "Section 4.2 of the lease states that the tenant is responsible for minor repairs up to a "
    "value of 250 GBP. Larger works, including anything to do with the boiler, the wiring or the "
    "structure of the building, remain the landlord's responsibility at all times.",
    "The museum's Egyptian gallery reopens on 3 May after an 18-month refurbishment. Highlights "
    "include a painted coffin lid, lent by the British Museum, and a model granary with tiny "
    "wooden workers. Admission is free; the audio guide costs 4.50 per person.",
)

RECEIPT_ITEMS: tuple[tuple[str, str], ...] = (
    ("Whole milk 2L", "1.89"),
    ("Sourdough loaf", "3.20"),
    ("Free range eggs x12", "4.15"),
    ("Cheddar 400g", "3.75"),
    ("Bananas 1.2kg", "1.32"),
    ("Olive oil 500ml", "6.49"),
    ("Coffee beans", "8.99"),
    ("Tomatoes vine", "2.10"),
    ("Greek yoghurt", "2.45"),
    ("Dish soap", "1.99"),
    ("Apples Braeburn", "2.60"),
    ("Pasta fusilli", "0.95"),
    ("Orange juice 1L", "2.25"),
    ("Chicken thighs", "5.80"),
    ("Basmati rice 1kg", "2.70"),
    ("Toilet roll 9pk", "4.99"),
    ("Dark chocolate", "1.65"),
    ("Butter salted", "2.35"),
)

RECEIPT_HEADER: tuple[str, ...] = (
    "GREENWAY MARKET",
    "14 High Street, Kendal LA9 4AB",
    "Tel 01539 720 118",
)
