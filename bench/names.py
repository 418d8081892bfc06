"""Fictional but realistic names for the generated clinics (Central European practice, mixed origins).

Family names follow a Zipf-like distribution: a few very common names (as "Müller" is in
Austria), then a long tail built from stems and endings, so that a search fragment matches
anything from a handful to thousands of records, as in a real registry. Accents are kept:
the search folds them, and the benchmark should exercise that.
"""

from __future__ import annotations

import random
from itertools import accumulate


def _words(text: str) -> list[str]:
    return text.split()


COMMON_FAMILY = _words(
    "Müller Gruber Huber Wagner Pichler Steiner Moser Mayer Hofer Leitner Berger Fuchs Eder Fischer Schmid "
    "Winkler Weber Schwarz Maier Schneider Reiter Mayr Schmidt Wimmer Egger Brunner Lang Baumgartner Auer Binder "
    "Lechner Wolf Wallner Aigner Ebner Koller Lehner Haas Schuster Holzer Wieser Stadler Fellner Böhm Kovač "
    "Horvat Novak Nowak Kowalski Wiśniewski Dvořák Černý Procházka Svoboda Horváth Nagy Tóth Szabó Kiss Varga "
    "Petrović Jovanović Nikolić Marković Đorđević Popović Babić Jurić Kovačević Knežević Yılmaz Kaya Demir Şahin "
    "Çelik Yıldız Öztürk Aydın Özdemir Arslan Doğan Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci "
    "Bruno Gallo Conti Fontana García Fernández González Rodríguez López Martínez Sánchez Pérez Dubois Lefèvre "
    "Moreau Laurent Girard Bonnet Rousseau Mercier Jensen Nielsen Hansen Lindqvist Bergström Åberg Sørensen "
    "Johansson Virtanen Mäkinen Korhonen O'Brien Murphy Kelly Popescu Ionescu Dumitrescu Papadopoulos Georgiou "
    "Oliveira Gonçalves Kuznetsov Ivanova Smirnova Schönberger Größl Weiß Krähenbühl Zöchling Grünwald Kössler"
)

# Long tail: stem + ending, e.g. "Brandstätter", "Radović", "Oberleitner", "Özoğlu".
STEMS = _words(
    "Brand Stein Hof Lind Ober Unter Neu Alt Wald Berg Kirch Mühl Rosen Eisen Holz Schön Grün Kalt Wein Sonn "
    "Hart Stock Feld Bach Dorn Gross Klein Hoch Tann Lerch Pran Rad Jov Stan Mil Drag Vuk Kov Pav Bog Zor "
    "Kar Ak Öz Kay Demir Gül Ars Bel Cas Mor Val Fior Lor Mar Ber Sil Ros"
)
ENDINGS = _words(
    "stätter huber leitner bauer maier eder ner mann berger inger ler hofer wieser gruber thaler egger "
    "ović ić ević ak ek ski czyk ová ányi ács "
    "maz çı oğlu türk can "
    "elli etti oni ini ano "
    "és ez ard eau "
    "sen ström lund berg"
)

GIVEN_FEMALE = _words(
    "Anna Maria Sophie Sofia Lena Laura Sarah Julia Katharina Hannah Emma Lea Magdalena Valentina Leonie "
    "Elena Johanna Clara Marie Lisa Theresa Elisabeth Eva Barbara Petra Andrea Sabine Claudia Monika Birgit "
    "Renate Ingrid Brigitte Gertrude Helga Ursula Christine Susanne Martina Karin Zoë Amélie Chloé Inés "
    "Lucía Agnieszka Małgorzata Zuzana Tereza Kateřina Ana Ivana Jelena Dragana Ayşe Elif Zeynep Fatma "
    "Emine Giulia Francesca Chiara Åsa Astrid Siobhán Nóra Réka Irina Olga Aleksandra"
)
GIVEN_MALE = _words(
    "Lukas Maximilian Jakob David Tobias Paul Jonas Felix Elias Alexander Florian Simon Sebastian Julian "
    "Fabian Michael Thomas Andreas Stefan Christian Markus Martin Peter Wolfgang Josef Franz Johann Karl "
    "Gerhard Helmut Günter Jürgen Matthias René André José Luís Jiří Tomáš Lukáš Paweł Michał Marek Ivan "
    "Dragan Miloš Nikola Goran Mehmet Mustafa Ömer Emre Burak Can Marco Luca Matteo Lorenzo Björn Søren "
    "Lars Niklas Ferenc László Zoltán Seán Ciarán Dmitri Sergei Andrei"
)

STREETS = (
    "Hauptstraße",
    "Bahnhofstraße",
    "Kirchengasse",
    "Lindengasse",
    "Mühlweg",
    "Schulstraße",
    "Gartengasse",
    "Wiener Straße",
    "Rosenweg",
    "Am Anger",
    "Lerchenfelder Gürtel",
    "Mariahilfer Straße",
    "Praterstraße",
)
TOWNS = (
    ("1010", "Wien"),
    ("1070", "Wien"),
    ("1160", "Wien"),
    ("2340", "Mödling"),
    ("3100", "St. Pölten"),
    ("4020", "Linz"),
    ("5020", "Salzburg"),
    ("6020", "Innsbruck"),
    ("8010", "Graz"),
    ("9020", "Klagenfurt"),
    ("2700", "Wiener Neustadt"),
    ("3400", "Klosterneuburg"),
)
ALLERGIES = ("", "", "", "", "", "Lidocaine", "Latex", "Penicillin", "Chlorhexidine", "Nickel", "Iodine")
MEDICATIONS = (
    "",
    "",
    "",
    "Minoxidil 5 % topical",
    "Finasteride 1 mg",
    "Levothyroxine 50 µg",
    "Isotretinoin 20 mg",
    "Acetylsalicylic acid 100 mg",
    "Oral contraceptive",
    "Spironolactone 50 mg",
)
NOTES = (
    "",
    "",
    "",
    "Androgenetic alopecia, Norwood III.",
    "Female pattern hair loss, Ludwig I.",
    "Acne scarring, cheeks; micro-needling series planned.",
    "Prefers morning appointments.",
    "Needle anxiety: topical anaesthetic 45 min before.",
    "Telogen effluvium after illness; ferritin checked.",
)


def _zipf_weights(count: int, exponent: float) -> list[float]:
    return list(accumulate(1.0 / (rank**exponent) for rank in range(1, count + 1)))


class NamePicker:
    """Draws names with a fixed seed, so a generated database is the same every time."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        tail = [stem + ending for stem in STEMS for ending in ENDINGS]
        rng.shuffle(tail)
        self.family = COMMON_FAMILY + tail
        # Common names first and heavy; the tail shares about half of all patients.
        self.family_cum = _zipf_weights(len(self.family), 0.75)
        self.female_cum = _zipf_weights(len(GIVEN_FEMALE), 0.6)
        self.male_cum = _zipf_weights(len(GIVEN_MALE), 0.6)

    def family_name(self) -> str:
        name = self.rng.choices(self.family, cum_weights=self.family_cum)[0]
        if self.rng.random() < 0.04:  # double-barrelled, as after marriage
            other = self.rng.choices(self.family, cum_weights=self.family_cum)[0]
            if other != name:
                name = f"{name}-{other}"
        return name

    def given_name(self, female: bool) -> str:
        if female:
            return self.rng.choices(GIVEN_FEMALE, cum_weights=self.female_cum)[0]
        return self.rng.choices(GIVEN_MALE, cum_weights=self.male_cum)[0]

    def address(self) -> str:
        street = self.rng.choice(STREETS)
        code, town = self.rng.choice(TOWNS)
        return f"{street} {self.rng.randint(1, 180)}/{self.rng.randint(1, 24)}, {code} {town}"
