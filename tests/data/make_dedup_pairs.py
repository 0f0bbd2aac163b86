"""Write tests/data/dedup_pairs.jsonl: the labeled pairs that tune and test deduplication.

Run ``python tests/data/make_dedup_pairs.py`` from the repository root; the output is the same
on every run (every random choice is seeded by the article and the transformation), so the
committed data file can always be regenerated and reviewed as a diff.

The base articles below are written for this set (the seed article is the reference article of
``storage/seed``). Quotes and the named spokespeople, officials and residents are invented for
testing; the background (the Kenya-led Multinational Security Support mission in Haiti) is
public. Articles of one ``event`` from different outlets share one or two quotes, the hard case
for "different coverage of the same event". ``follows`` marks a follow-up story by the same
outlet, which reuses a background paragraph of the first one.

Each output line is a JSON object:
``{"a": {"title", "text"}, "b": {"title", "text"}, "label": "copy" | "distinct", "kind",
"a_base", "b_base"}``; ``a_base``/``b_base`` name the base article each side derives from.
"""

from __future__ import annotations

import json
import random
import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

OUTPUT = Path(__file__).with_name("dedup_pairs.jsonl")
SEED = "dedup-pairs-v1"


@dataclass(frozen=True)
class Article:
    id: str
    outlet: str
    lang: str
    event: str
    follows: str | None
    title: str
    paragraphs: tuple[str, ...]
    separator: str = "\n\n"

    @property
    def text(self) -> str:
        return self.separator.join(self.paragraphs)


@dataclass(frozen=True)
class Site:
    """Another site's page furniture, as a careless text extractor would keep it."""

    name: str
    header: str
    cookie: str
    related: tuple[str, ...]
    newsletter: str
    footer: str


def parse_articles(source: str) -> list[Article]:
    """Parse the ``=== id | outlet | lang | event | follows`` blocks below."""
    articles = []
    for block in re.split(r"(?m)^=== ", source)[1:]:
        head, title, body = block.split("\n", 2)
        ident, outlet, lang, event, follows = (field.strip() for field in head.split("|"))
        paragraphs = tuple(
            " ".join(line.strip() for line in chunk.splitlines())
            for chunk in re.split(r"\n\s*\n", body.strip())
        )
        separator = "\n" if ident == SEED_ID else "\n\n"
        articles.append(
            Article(
                ident, outlet, lang, event, follows or None, title.strip(), paragraphs, separator
            )
        )
    return articles


SEED_ID = "seed-rubio"

ARTICLES = """
=== seed-rubio | Seed | en | rubio-praise |
Rubio praises Kenyan-led forces in Haiti for their courage despite being outgunned

United States President Donald Trump’s pick for Secretary of State position Marco Rubio from
Florida, praised various troops on a mission in Haiti, including Kenyan forces under the
Multinational Security Support Mission (MSS), for their courage and commitment to their duties
despite challenges such as being outgunned and outnumbered in the line of duty.

While addressing a forum in the US, Rubio acknowledged the efforts of the Kenyan troops, stating
they have done their best to restore order despite facing significant challenges.

“The Kenyans deserve a lot of credit for being willing to take on that mission. In recent days,
troops from various other countries have also arrived,” Rubio said.

The mission’s goal is to help the Haitian government restore law and order amidst ongoing civil
unrest and gang violence.

By late 2024, the UN Security Council extended the mission for another year. There is ongoing
debate about potentially converting it into a full UN peacekeeping mission for more stable
funding and broader support, although Russia and China have opposed this change.

The first group of Kenyan security forces arrived in Haiti on June 25, 2024. Despite this, the
mission has faced challenges, such as being understaffed and underfunded.

On September 26, President William Ruto assured the international community that Kenya would
remain committed to combating criminal gangs in Haiti.

During his speech at the UN General Assembly in New York, Ruto confirmed that Kenya would deploy
police officers as part of the 2,500 MSS officers required in the Caribbean before January 2025.

“I must emphasize that Kenya will deploy the additional contingent towards attaining the target
of all 2,500 police officers by January next year. The progress so far in Haiti demonstrates
that what once deemed mission impossible is indeed a present and undeniable possibility,” said
President Ruto at the time.

However, as of January 2025, only about 572 personnel out of the 2,500 pledged have been
deployed. Recently, the mission received reinforcements from Guatemala and El Salvador.

=== nd-first-deploy | Nairobi Daily | en | first-deploy |
First Kenyan police contingent lands in Haiti to take on gangs

NAIROBI - The first 400 Kenyan police officers of the Multinational Security Support mission
landed at Toussaint Louverture International Airport in Port-au-Prince on Tuesday, ending months
of legal and political wrangling over a deployment that many in Nairobi doubted would ever
happen.

The officers, drawn from the General Service Unit, the Administration Police and the Rapid
Deployment Unit, flew out of Jomo Kenyatta International Airport on Monday night aboard a
chartered plane. They were received on the tarmac by Haitian police commanders and a small
delegation from the United States embassy, which is paying for most of the operation.

"We have not come to Haiti as strangers. We have come as brothers and sisters to stand with the
Haitian National Police, and we will do this work with discipline, with respect for human rights
and with full respect for the sovereignty of the Haitian people," said Commander Peter Kiprono,
who leads the Kenyan contingent.

The mission was authorised by the United Nations Security Council in October 2023, but its
launch was delayed by a ruling of Kenya's High Court, which found that the government could not
send police officers abroad without a reciprocal agreement with the host country. Nairobi and
Port-au-Prince signed such an agreement in March, clearing the way for the deployment.

Kenya has pledged 1,000 officers to the mission, which is expected to reach 2,500 personnel with
contributions from the Bahamas, Bangladesh, Barbados, Benin, Chad and Jamaica. Officials at the
Ministry of Interior said the remaining Kenyan officers would travel in batches over the coming
weeks, once accommodation at the mission's base near the airport is complete.

The officers face a daunting task. Armed groups control an estimated 80 percent of the capital
and have expanded into the Artibonite region, the country's breadbasket. More than half a
million Haitians have been driven from their homes, according to the International Organization
for Migration.

At home, the deployment remains divisive. Opposition politicians have asked why Kenyan police
should be sent to a distant crisis while banditry persists in the North Rift, and human rights
groups have pointed to allegations of abuses by Kenyan police units at home. Supporters argue
the mission will raise Kenya's diplomatic standing and bring valuable training and equipment to
the service.

Families gathered at the airport in Nairobi on Monday to see the officers off. "He told me he is
going to do his job and come back," said the wife of one constable, who asked not to be named
because her husband was not authorised to speak to the press. "We pray for all of them."

The government has said the officers will be paid allowances on top of their regular salaries,
funded through a trust fund administered by the United Nations. Questions about the size of that
fund have dogged the mission from the start: by the day of the landing, pledges stood far short
of the roughly 600 million dollars needed for the first year.

=== cw-first-deploy | Caribbean Wire | en | first-deploy |
Kenyan officers arrive in Port-au-Prince as residents wait for relief from gangs

PORT-AU-PRINCE - Residents of the Haitian capital watched with a mix of hope and scepticism on
Tuesday as a plane carrying hundreds of Kenyan police officers touched down at the city's main
airport, the first foreign security force to arrive in Haiti in almost two decades.

Armoured vehicles escorted the officers from the runway to a newly built base on the airport
grounds, passing walls covered in graffiti left by gangs that had forced the airport to close
for nearly three months earlier this year. Gunfire could be heard in the nearby neighbourhood of
Tabarre in the afternoon, although it was not clear who was shooting.

"We have not come to Haiti as strangers. We have come as brothers and sisters to stand with the
Haitian National Police, and we will do this work with discipline, with respect for human rights
and with full respect for the sovereignty of the Haitian people," Commander Peter Kiprono told
reporters after stepping off the plane.

For many Haitians, the arrival is long overdue. Since the assassination of President Jovenel
Moise in July 2021, gangs have tightened their grip on Port-au-Prince, kidnapping for ransom,
burning homes and blocking the roads that link the capital to the rest of the country. In
Carrefour-Feuilles, a district emptied by fighting last year, shopkeeper Nadege Auguste said she
would believe in the mission when she could reopen her store. "People have heard many promises,"
she said. "We want to sleep without hearing bullets."

Others recalled the troubled legacy of earlier foreign interventions. The United Nations
stabilisation mission that left in 2017 was blamed for introducing cholera, which killed nearly
10,000 people, and some of its troops were implicated in sexual abuse. Civil society groups have
urged the new force to set up a complaints mechanism before its officers begin patrols.

The Haitian National Police welcomed the Kenyans in a brief statement and said joint operations
would start within days. The force has fewer than 10,000 active officers for a country of 11.7
million people, and dozens of its members have been killed by gangs this year alone.

The gang coalition known as Viv Ansanm has repeatedly warned that it will resist any foreign
force. Its leaders have said on social media that officers who enter the neighbourhoods they
control will be treated as invaders, and analysts expect the first weeks of joint patrols to
test how far the coalition is prepared to go.

=== gb-unsc-renewal | Global Bulletin | en | unsc-renewal |
UN Security Council extends Kenya-led Haiti mission for another year

UNITED NATIONS - The United Nations Security Council on Monday unanimously extended the
authorisation of the Multinational Security Support mission in Haiti for twelve months, but
stopped short of turning the Kenya-led force into a full UN peacekeeping operation, as Haiti's
transitional authorities and the United States had hoped.

The resolution allows the mission, which has about 400 Kenyan police officers on the ground
alongside smaller contingents from Jamaica, Belize and the Bahamas, to keep supporting the
Haitian National Police until October next year. It also asks the Secretary-General to present
options for a stronger UN role, including the possibility of a peacekeeping operation, within
six months.

"The Council reaffirms its strong commitment to the sovereignty, independence, territorial
integrity and unity of Haiti, and underlines that the Haitian people must lead the restoration
of security, democratic institutions and the rule of law in their own country," the council's
presidency said in a statement read after the vote.

Diplomats said a proposal to convert the mission into a peacekeeping force had been dropped
after objections from Russia and China, which argued that the Haitian authorities had not
formally requested blue helmets and that the current mission should first prove itself.

The decision leaves the force dependent on voluntary contributions to a trust fund that has
received only a fraction of the money it needs. The United States has provided most of the
mission's funding and equipment, while Canada and a handful of European countries have made
smaller pledges.

"This renewal buys us time, but time is not what the Haitian people are short of. They are short
of police officers, armoured vehicles and money, and a mission that depends on voluntary
contributions will always be one bad month away from collapse," said Marc-Antoine Jerome, a
senior Haitian diplomat in New York.

Kenya's foreign ministry welcomed the vote and said additional officers would be deployed before
the end of the year. Nairobi has pledged a total of 1,000 police officers, but recruitment and
training have been slowed by funding delays and by the need to build accommodation in
Port-au-Prince.

Violence in Haiti continues to rise. The United Nations estimates that more than 3,600 people
were killed in gang-related violence in the first six months of the year, and the number of
people displaced by fighting has passed 700,000, more than half of them children.

=== hp-unsc-renewal | Haiti Press Review | en | unsc-renewal |
Security Council renews MSS mandate but leaves funding question open

PORT-AU-PRINCE - Haitian officials on Tuesday gave a guarded welcome to the decision of the
United Nations Security Council to renew the mandate of the Multinational Security Support
mission for another year, warning that the force still lacks the people and the money to defeat
the gangs that control most of the capital.

The council voted fifteen to zero on Monday evening in New York. The text was drafted by the
United States and Ecuador after weeks of negotiations in which several members questioned the
mission's progress since the first Kenyan police officers arrived in June.

"The Council reaffirms its strong commitment to the sovereignty, independence, territorial
integrity and unity of Haiti, and underlines that the Haitian people must lead the restoration
of security, democratic institutions and the rule of law in their own country," the statement
said.

In Port-au-Prince, members of the Transitional Presidential Council said they would keep
pressing for a UN peacekeeping operation, which would be financed from the organisation's
regular budget rather than by voluntary donations. "This renewal buys us time, but time is not
what the Haitian people are short of. They are short of police officers, armoured vehicles and
money, and a mission that depends on voluntary contributions will always be one bad month away
from collapse," Marc-Antoine Jerome, a senior diplomat, told reporters.

On the ground, residents of neighbourhoods such as Solino and Delmas 24 say they have seen
little change. Gangs continue to attack districts that had so far been spared, and the national
road to the south remains under the control of armed groups who charge fees to every bus and
truck that passes.

The mission's commanders argue that they have secured key sites, including the national palace
area and the port, and that joint operations with the Haitian police have pushed gangs out of
several streets in the city centre. They say that with the promised 2,500 personnel they could
hold the ground they take, something that is impossible with fewer than 500.

Human rights groups welcomed a clause in the resolution that asks the mission to strengthen its
oversight and complaints mechanism. Several organisations had reported allegations of excessive
force during operations in the lower city in August, which the mission said it was
investigating.

=== cw-pont-sonde | Caribbean Wire | en | pont-sonde |
Gang attack on Artibonite town leaves dozens dead

SAINT-MARC - Gunmen from the Gran Grif gang killed at least 70 people, among them women and
infants, in an overnight attack on the town of Pont-Sonde in Haiti's Artibonite department,
local authorities said on Friday, in one of the deadliest massacres the country has seen in
years.

The attackers arrived in the early hours, shooting residents in their homes and setting fire to
houses and vehicles. Survivors fled across rice fields towards Saint-Marc, some of them with
gunshot wounds, and dozens were still missing on Friday evening.

"The attackers came at dawn and went from house to house. They shot people who were sleeping,
they shot people who were running, and they burned the houses so that nobody could come back,"
said Jean-Robert Pierre, the civil protection coordinator for the lower Artibonite. "We are
still counting the dead."

Gran Grif, based in the nearby town of Savien, has waged a campaign of violence across the
Artibonite valley, the country's main rice-growing region, for more than two years. The group
has blocked the national road that connects Port-au-Prince to the north, extorting drivers and
kidnapping travellers, and it has attacked police stations in several communes.

A spokesperson for the gang said in a voice message shared on social media that the attack was
retaliation against residents who had supported a local vigilante group and allowed police to
set up a checkpoint. The claim could not be independently verified.

Prime Minister Garry Conille condemned the killings and said reinforcements from the Haitian
National Police and the Multinational Security Support mission had been sent to the area.
Residents said no officers had reached the town by Friday afternoon, more than twelve hours
after the attack began.

Hospitals in Saint-Marc were overwhelmed. Staff at the Saint-Nicolas hospital said they had
received more than twenty wounded patients, several in critical condition, and appealed for
blood donations. Aid groups warned that thousands of displaced people had nowhere to stay.

The massacre adds to a rising toll. The United Nations says more than 1,200 people were killed
in Haiti between July and September alone, and it has repeatedly called for more support for the
Kenya-led mission, which has fewer than 500 officers for a task planned for 2,500.

=== am-pont-sonde | Atlantic Monitor | en | pont-sonde |
Survivors describe night of terror as Haiti mourns Pont-Sonde victims

PORT-AU-PRINCE - The death toll from last week's attack on the Haitian town of Pont-Sonde rose
to 115 on Monday as rescuers recovered more bodies from burned homes, making it the worst single
massacre in Haiti since the assassination of President Jovenel Moise in 2021.

Survivors interviewed in a school in Saint-Marc that now shelters more than 1,500 people
described gunmen moving methodically through the streets with lists of names. One farmer said he
hid in an irrigation canal for six hours while his neighbours were shot. A mother of three said
she lost her husband and her brother.

"The attackers came at dawn and went from house to house. They shot people who were sleeping,
they shot people who were running, and they burned the houses so that nobody could come back,"
said Jean-Robert Pierre, a civil protection official, describing the first reports from the
town.

The United Nations human rights office said the attack showed the urgent need to restore state
authority in the Artibonite, where the police have only a handful of stations left. The
Kenya-led Multinational Security Support mission has so far concentrated its forces in
Port-au-Prince, where it protects the airport, the port and key government buildings.

Analysts say that concentration has pushed some armed groups outwards. Gangs that lost ground in
the capital are increasingly active in the countryside, where they steal harvests and livestock
and seize land. In the Artibonite, tens of thousands of farmers have abandoned their fields, and
food prices in nearby markets have doubled in a year.

The government declared three days of national mourning and promised compensation for the
families of the victims. Civil society groups were sceptical. They noted that similar pledges
were made after earlier massacres in Cite Soleil and Canaan, and that few families ever received
help.

Community leaders in Pont-Sonde have asked for a permanent police post in the town and for the
reopening of the national road under military protection. The mission's commanders said they
were studying a deployment to the area but that they lacked armoured vehicles and helicopters to
operate far from the capital.

=== kt-mps-funding | Kenya Times | en | mps-funding |
MPs demand full accounting of Haiti mission costs

NAIROBI - Members of Parliament on Wednesday demanded that the Interior Ministry disclose how
much Kenya has spent on the Haiti security mission, after officers deployed to Port-au-Prince
complained that their allowances had not been paid for three months.

Appearing before the National Assembly's Committee on Administration and Internal Security,
officials of the Interior Ministry said the government had so far spent money from its own
budget on equipment, insurance and transport, and was waiting for reimbursement from the United
Nations trust fund that finances the mission.

"We were told this mission would not cost the Kenyan taxpayer a single shilling. Now we are told
our officers have not been paid and that the ministry is waiting for donors. Parliament deserves
a full accounting, and the officers deserve their money today, not next quarter," said Samuel
Otieno, a member of the committee.

The committee heard that more than 400 officers currently serving in Haiti are entitled to a
monthly allowance of about 1,000 dollars on top of their salaries. Several officers have told
their families by telephone that they have had to borrow money to buy basic supplies, and at
least two have asked to return home early.

Ministry officials told the committee that a first payment from the trust fund had been received
in Nairobi and would be released within two weeks. They said delays had been caused by the need
to verify the lists of officers and by slow disbursements from donor countries.

The hearing comes as the government prepares to send a further 600 officers to Haiti to complete
Kenya's pledge of 1,000 personnel. Some MPs said no more officers should leave until the payment
problem is resolved and a clear exit plan is presented to Parliament.

Opposition lawmakers have long argued that the mission was launched without proper parliamentary
scrutiny. In a heated exchange, one member accused the ministry of treating Parliament as a
rubber stamp, while government-aligned MPs said the deployment had brought Kenya international
credit and that teething problems were to be expected.

The committee gave the ministry fourteen days to table a full report on expenditure, including
the amounts received from the trust fund and the cost of equipment bought for the mission.

=== es-mps-funding | East Standard | en | mps-funding |
Unpaid allowances for Haiti officers spark row in Parliament

NAIROBI - A parliamentary hearing on Kenya's police deployment to Haiti turned tense on
Wednesday as lawmakers pressed officials over reports that officers serving in Port-au-Prince
had gone months without their promised allowances.

The Interior Ministry acknowledged the delays but insisted that every officer would be paid in
full. Officials blamed slow transfers from the United Nations-administered trust fund and the
time needed to reconcile payroll records with the mission's deployment lists.

"We were told this mission would not cost the Kenyan taxpayer a single shilling. Now we are told
our officers have not been paid and that the ministry is waiting for donors. Parliament deserves
a full accounting, and the officers deserve their money today, not next quarter," Samuel Otieno
told the hearing.

Relatives of officers have become increasingly vocal. In Nakuru, the father of a constable
serving in Haiti said his son had called to say that he and his colleagues were sharing food and
that morale was low. "They went to represent the country. The least the country can do is pay
them," he said.

The row is an embarrassment for the government, which has presented the mission as evidence of
Kenya's leadership in global security. President William Ruto visited the Kenyan contingent in
Port-au-Prince in September and promised additional officers, equipment and support.

Security analysts in Nairobi said the payment problems reflect a deeper weakness in the
mission's design. Because the force is not a UN operation, it depends on voluntary
contributions, and donors have so far provided less than a third of the money needed. The United
States has been the largest contributor.

Lawmakers also raised questions about the equipment used by the officers, after images
circulated online showing armoured vehicles that had broken down in Port-au-Prince. Ministry
officials said the vehicles had been supplied by partner countries and that replacements were on
the way.

The hearing ended with a resolution requiring the ministry to report back within two weeks.
Several MPs said they would push for a full debate on the mission's future when the House
resumes after the recess.

=== gb-displacement | Global Bulletin | en | displacement |
Number of Haitians displaced by violence passes one million, IOM says

GENEVA - More than one million people in Haiti have been forced from their homes by gang
violence, three times as many as a year ago, the International Organization for Migration said
on Tuesday, warning that the humanitarian crisis had reached levels not seen since the 2010
earthquake.

The figure, based on surveys carried out in December, includes more than 500,000 people
displaced within the capital, Port-au-Prince, where armed groups have attacked neighbourhoods
that were previously considered safe. Many families have been displaced several times, moving
from one district to another as fighting spreads.

"Behind this number are mothers who have lost everything, children who have not seen a classroom
in months, and old people sleeping on the floor of a school. Every week the violence reaches a
new neighbourhood, and every week the sites we support become more crowded," said Grace Lamarre,
who leads the agency's operations in Haiti.

About a quarter of the displaced live in makeshift sites such as schools, churches and public
buildings, where sanitation is poor and cases of cholera have been reported. The rest have found
shelter with relatives or host families, often in the south of the country, stretching the
resources of communities that were already poor.

The report comes as aid groups struggle to reach those in need. Roads out of the capital are
controlled by gangs, and flights into Port-au-Prince were suspended in November after gunmen
fired on commercial aircraft. The humanitarian appeal for Haiti was less than half funded last
year.

The IOM said women and girls were particularly exposed to sexual violence, both in the
neighbourhoods controlled by gangs and in the displacement sites. Partners reported a sharp
increase in cases, most of which go unreported because survivors fear reprisals.

The agency called on donors to increase funding and on the international community to support
the Haitian authorities and the Multinational Security Support mission in restoring security,
which it said was the only lasting solution to the crisis.

=== cw-displacement | Caribbean Wire | en | displacement |
Displacement crisis deepens as families flee Port-au-Prince neighbourhoods

PORT-AU-PRINCE - In a crowded classroom in the Haitian capital, forty families share a single
tap and a handful of mattresses. Most of them fled the district of Solino in October when gangs
burned their homes; some had already fled once before, from Carrefour-Feuilles.

Their story is increasingly common. The International Organization for Migration said on Tuesday
that the number of Haitians displaced by violence had passed one million for the first time,
more than 12,000 of them in the past week alone.

"Behind this number are mothers who have lost everything, children who have not seen a classroom
in months, and old people sleeping on the floor of a school. Every week the violence reaches a
new neighbourhood, and every week the sites we support become more crowded," said Grace Lamarre,
the agency's chief in Haiti.

Conditions in the sites are dire. Residents of the school said they eat once a day, usually rice
donated by a church group, and that children had fallen sick with diarrhoea. Women said they
were afraid to use the latrines at night.

Many of the displaced want to leave the capital but cannot afford the journey or fear the roads,
where gangs stop buses and demand payment. Those who have reached the south describe long waits
at checkpoints and robberies along the way.

The crisis is also felt abroad. The Dominican Republic has stepped up deportations of Haitians,
sending back tens of thousands of people in recent months, many of whom arrive at the border
with nothing and no home to return to. Aid agencies have set up reception points in Belladere
and Ouanaminthe.

Officials of the transitional government say restoring security is the priority and point to new
operations by the Haitian National Police and the Multinational Security Support mission.
Residents of the school said they had not seen any officers in their old neighbourhood since
they left. "When the police come and stay, we will go home," one man said.

=== nd-officer-killed | Nairobi Daily | en | officer-killed |
Kenyan police officer killed in Haiti gang ambush

NAIROBI - A Kenyan police officer serving with the Multinational Security Support mission in
Haiti has died after being shot during an operation against gangs in the Artibonite region, the
first Kenyan fatality since the deployment began eight months ago.

The officer, a member of the General Service Unit, was wounded on Sunday when a patrol came
under heavy fire near the town of Segur Savien. He was evacuated by helicopter to a hospital in
Port-au-Prince but died of his injuries, police headquarters said in a statement.

"It is with deep sorrow that we announce the loss of one of our officers, who paid the ultimate
price while serving the people of Haiti. His courage will not be forgotten, and our mission to
restore security and hope in Haiti will continue," the mission said in its statement on Monday.

A second Kenyan officer was injured in the same incident and is in stable condition, according
to the statement. The patrol had been supporting Haitian police units trying to reopen a section
of the national road that has been blocked by the Gran Grif gang for months.

The Inspector General of Police said the officer's body would be flown home and buried with full
honours. His family, in Nyeri County, said they had last spoken to him a week ago. "He was proud
of what they were doing there," a cousin said. "He wanted to come home in June."

The death is likely to revive questions at home about the risks of the mission. Opposition
politicians have criticised the government for sending officers without adequate equipment,
pointing to reports that some patrols have had to use vehicles without armour plating. The
Interior Ministry has said that all officers are properly equipped and trained.

Kenya now has about 700 officers in Haiti, the largest contingent in a force that also includes
police and soldiers from Jamaica, Belize, the Bahamas, Guatemala and El Salvador. The mission
has about 1,000 personnel in total, well short of the 2,500 envisaged when it was authorised.

President William Ruto sent his condolences to the family and said Kenya remained committed to
supporting Haiti. The government has not said whether the incident will lead to any change in
how Kenyan officers are deployed outside the capital.

=== hp-officer-killed | Haiti Press Review | en | officer-killed |
MSS mourns first officer killed in action as Artibonite fighting intensifies

SAINT-MARC - Fighting between security forces and gangs in Haiti's Artibonite department claimed
the life of a Kenyan police officer this week, the Multinational Security Support mission said,
as armed groups stepped up attacks on communities along the national road.

"It is with deep sorrow that we announce the loss of one of our officers, who paid the ultimate
price while serving the people of Haiti. His courage will not be forgotten, and our mission to
restore security and hope in Haiti will continue," the MSS said.

The officer was part of a joint operation with the Haitian National Police near Savien, the
stronghold of the Gran Grif gang, which is blamed for the massacre of more than 100 people in
Pont-Sonde in October. Haitian police said several gang members were killed in the operation,
though the figure could not be confirmed.

Residents of the area described hours of gunfire on Sunday afternoon. In the nearby commune of
Liancourt, families sheltered inside their homes as bullets struck walls and roofs. A teacher
said the school had been closed for weeks because parents were afraid to send their children
out.

The Haitian prime minister, Alix Didier Fils-Aime, offered his condolences to Kenya and paid
tribute to the foreign officers who, he said, had chosen to share the risks faced by Haitian
police every day. More than 40 Haitian officers were killed in the line of duty last year.

The mission has been expanding its operations beyond Port-au-Prince since the arrival of
reinforcements from Guatemala and El Salvador in January. But commanders say they still lack the
aircraft and armoured vehicles needed to hold territory in rural areas, and gangs often return
once patrols move on.

The death comes at a difficult moment for the mission. Its funding depends on a trust fund that
is nearly empty, and the new administration in Washington has ordered a review of foreign
assistance. Haitian officials have urged the United Nations to take over financing through a
peacekeeping operation.

=== le-aeroport | L'Echo d'Haiti | fr | airport-reopening |
L'aéroport Toussaint Louverture rouvre après trois mois de fermeture

PORT-AU-PRINCE - L'aéroport international Toussaint Louverture a rouvert ses portes aux vols
commerciaux ce lundi, près de trois mois après des tirs de gangs contre plusieurs avions qui
avaient contraint les autorités américaines à interdire les vols vers la capitale haïtienne.

Un premier appareil en provenance de Miami s'est posé en fin de matinée, sous la protection de
policiers haïtiens et d'agents de la Mission multinationale d'appui à la sécurité, déployés
autour des pistes et sur les routes d'accès. Les passagers ont été accueillis par des
applaudissements dans le terminal.

« Nous avons renforcé la sécurité du périmètre, installé de nouveaux dispositifs de surveillance
et coordonné chaque étape avec la police et la mission multinationale. La réouverture est
progressive, et nous ne prendrons aucun risque avec la vie des passagers et des équipages », a
déclaré Jean-Baptiste Lafontant, directeur de l'Autorité aéroportuaire nationale.

La fermeture de l'aéroport avait paralysé l'économie de la capitale. Les commerçants se
plaignaient de ruptures de stock, les hôpitaux manquaient de médicaments et de nombreux Haïtiens
de la diaspora n'avaient pas pu rentrer pour les fêtes de fin d'année. Les seuls vols
disponibles partaient du Cap-Haïtien, dans le nord, une ville difficile à atteindre par la
route.

Les compagnies aériennes restent prudentes. Seules deux compagnies régionales ont annoncé la
reprise de leurs liaisons, tandis que les grands transporteurs américains attendent une nouvelle
évaluation de la sécurité. Les primes d'assurance pour les vols vers Port-au-Prince ont
fortement augmenté.

Autour de l'aéroport, les quartiers de Tabarre et de Clercine restent sous la menace des groupes
armés. Des habitants ont indiqué avoir entendu des tirs la semaine dernière, et plusieurs écoles
de la zone n'ont toujours pas repris les cours.

Le gouvernement de transition présente la réouverture comme un signe que la situation
s'améliore. Les organisations de la société civile estiment cependant qu'il faudra davantage
qu'un aéroport sécurisé pour que la vie reprenne un cours normal dans la capitale.

=== ih-aeroport | Info Haiti | fr | airport-reopening |
Reprise des vols à Port-au-Prince : soulagement et inquiétude

PORT-AU-PRINCE - Des dizaines de familles se sont rassemblées lundi devant l'aéroport
international Toussaint Louverture pour accueillir les passagers du premier vol commercial
depuis la fermeture de l'aéroport en novembre, après que des balles eurent touché un avion de
ligne en approche.

Pour beaucoup, c'était la fin d'une longue attente. Marie-Claude Desir, infirmière à Boston, a
retrouvé sa mère pour la première fois depuis un an. « Je n'y croyais plus. Chaque semaine on
nous annonçait une date, puis tout était reporté », a-t-elle confié, en larmes.

« Nous avons renforcé la sécurité du périmètre, installé de nouveaux dispositifs de surveillance
et coordonné chaque étape avec la police et la mission multinationale. La réouverture est
progressive, et nous ne prendrons aucun risque avec la vie des passagers et des équipages », a
assuré Jean-Baptiste Lafontant, le responsable de l'autorité aéroportuaire.

Les policiers kényans de la mission multinationale patrouillent désormais le long de la route de
l'aéroport, où des véhicules blindés sont postés aux principaux carrefours. Les chauffeurs de
taxi disent toutefois éviter certains trajets après la tombée de la nuit.

Pour les entreprises, la reprise des vols est vitale. Les importateurs de produits
pharmaceutiques et de pièces détachées dépendaient depuis des mois du port, lui aussi exposé aux
attaques, ou de longs détours par la République dominicaine. Plusieurs chefs d'entreprise ont
salué la décision tout en réclamant des garanties durables.

Les experts en sécurité aérienne rappellent que les avions restent vulnérables à l'atterrissage
et au décollage, lorsque leur trajectoire passe au-dessus de quartiers contrôlés par les gangs.
Ils estiment que seule une présence policière permanente dans ces zones permettra d'éviter de
nouvelles attaques.

En attendant, le gouvernement de transition a promis de publier chaque semaine un bilan de la
situation sécuritaire autour de l'aéroport, une mesure que les compagnies aériennes demandaient
depuis longtemps.

=== dc-guatemala | Diario Centroamericano | es | guatemala-deploy |
Policías militares guatemaltecos llegan a Haití para reforzar la misión multinacional

CIUDAD DE GUATEMALA - Un primer grupo de 75 policías militares guatemaltecos aterrizó este
jueves en Puerto Príncipe para sumarse a la Misión Multinacional de Apoyo a la Seguridad, que
encabeza Kenia y que intenta desde hace siete meses recuperar el control de la capital haitiana
de manos de las pandillas.

Los efectivos, que recibieron varias semanas de entrenamiento en la base militar de Mariscal
Zavala, viajaron en un avión de la Fuerza Aérea de Estados Unidos. Otros 75 agentes se unirán al
contingente en las próximas semanas, según el Ministerio de la Defensa Nacional.

El presidente Bernardo Arévalo despidió a la tropa en una ceremonia en la capital y afirmó que
la participación de Guatemala responde a un compromiso con la estabilidad de la región. El
Congreso aprobó el envío el mes pasado tras un debate en el que varios diputados cuestionaron
los riesgos de la operación.

La misión cuenta actualmente con unos 800 efectivos, en su mayoría policías kenianos, además de
contingentes de Jamaica, Belice y Bahamas. El Salvador también ha enviado un pequeño grupo de
soldados especializados en evacuaciones médicas y se espera que otros países se sumen en los
próximos meses.

Las pandillas controlan cerca del 85 por ciento de Puerto Príncipe, según Naciones Unidas. La
violencia dejó más de 5.000 muertos el año pasado y ha obligado a más de un millón de personas a
abandonar sus hogares. Los grupos armados también han extendido sus ataques a las zonas rurales
del departamento de Artibonite.

Expertos en seguridad señalan que la llegada de los guatemaltecos aporta experiencia en
operaciones contra el crimen organizado, pero advierten que el número total de efectivos sigue
muy por debajo de los 2.500 previstos. La falta de financiamiento es el principal obstáculo, ya
que la misión depende de contribuciones voluntarias.

Familiares de los policías militares se reunieron a las puertas de la base para despedirlos. Una
madre dijo que su hijo se había ofrecido como voluntario porque quería ayudar a un pueblo que
sufre. Las autoridades aseguraron que el contingente contará con atención médica y seguros de
vida durante todo su despliegue.

=== dc-gsf | Diario Centroamericano | es | gsf-vote |
El Consejo de Seguridad aprueba una nueva fuerza contra las pandillas en Haití

NACIONES UNIDAS - El Consejo de Seguridad de la ONU aprobó el martes la creación de una Fuerza
de Supresión de Pandillas para Haití, que sustituirá a la misión multinacional encabezada por
Kenia y contará con hasta 5.500 efectivos, más del doble de lo previsto para la operación
actual.

La resolución, redactada por Estados Unidos y Panamá, obtuvo doce votos a favor y tres
abstenciones. La nueva fuerza tendrá un mandato más amplio que incluye operaciones ofensivas
contra los grupos armados y contará con una oficina de apoyo de Naciones Unidas encargada de la
logística, el combustible y las raciones.

Los diplomáticos que apoyaron el texto afirmaron que la misión actual demostró que una fuerza
pequeña y mal financiada no puede contener a pandillas que disponen de armas de guerra. Los
países que se abstuvieron expresaron dudas sobre el uso de la fuerza y sobre la falta de
consulta con la sociedad haitiana.

La misión multinacional, desplegada desde junio de 2024, llegó a contar con menos de 1.000
efectivos, frente a los 2.500 autorizados. Sus comandantes lograron asegurar el aeropuerto, el
puerto y algunos edificios públicos, pero las pandillas siguieron avanzando hacia zonas que
antes estaban a salvo.

En Puerto Príncipe, el gobierno de transición celebró la decisión y pidió que los primeros
contingentes de la nueva fuerza lleguen antes de fin de año. Organizaciones de derechos humanos
recordaron que cualquier operación debe respetar a la población civil y contar con mecanismos
independientes de denuncia.

No está claro qué países aportarán tropas. Varios gobiernos de América Latina y de África han
manifestado interés, pero condicionan su participación a garantías de financiamiento. Kenia
indicó que mantendrá a sus policías en Haití durante la transición hacia la nueva fuerza.

Analistas advierten que el desafío no es solo militar. Sin un plan para desarmar a las
pandillas, ofrecer alternativas a los jóvenes reclutados y organizar elecciones creíbles, la
nueva fuerza corre el riesgo de repetir los errores de las intervenciones anteriores.

=== nd-second-contingent | Nairobi Daily | en | second-contingent | nd-first-deploy
Second batch of Kenyan officers flies to Haiti as mission expands

NAIROBI - A second contingent of 200 Kenyan police officers left for Haiti on Tuesday night,
bringing the number of Kenyans serving with the Multinational Security Support mission to about
600 and raising hopes that the force can move beyond the handful of sites it has secured in
Port-au-Prince.

The officers, most of them from the Administration Police and the Border Police Unit, completed
a six-week training course at the police college in Embakasi that covered urban operations,
first aid and human rights. They were flagged off by the Deputy Inspector General, who urged
them to uphold the name of the Kenya Police Service.

The mission was authorised by the United Nations Security Council in October 2023, but its
launch was delayed by a ruling of Kenya's High Court, which found that the government could not
send police officers abroad without a reciprocal agreement with the host country. Nairobi and
Port-au-Prince signed such an agreement in March, clearing the way for the deployment.

Officials said the new arrivals would allow the mission to set up a second operating base
outside the capital, possibly in the Artibonite, where gangs have attacked towns and blocked the
main road to the north. Commanders in Haiti have repeatedly said they need more people to hold
neighbourhoods after clearing them.

The first officers have been in Haiti for three months. They have taken part in joint patrols
with the Haitian National Police, helped secure the reopening of the main hospital in the city
centre and escorted convoys of fuel and food. Two officers have been wounded, neither seriously.

Back in Nairobi, the deployment continues to attract criticism. A group of civil society
organisations has gone back to court, arguing that the government has not shared the terms of
the reciprocal agreement with Parliament. The case is due to be heard next month.

The government says a further 400 officers will travel before the end of the year, completing
Kenya's pledge of 1,000. Whether that happens depends largely on money: the United Nations trust
fund that pays for the mission has received less than a third of what is needed, and officials
are lobbying Gulf and European governments for new contributions.

=== cw-pont-sonde-followup | Caribbean Wire | en | pont-sonde-followup | cw-pont-sonde
A month after the Pont-Sonde massacre, survivors wait in crowded schools

SAINT-MARC - One month after gunmen killed more than a hundred people in the Artibonite town of
Pont-Sonde, thousands of survivors are still living in schools and churches in Saint-Marc, with
little food, no income and no date for going home.

In the courtyard of a Catholic school, women cook rice over charcoal while children play between
rows of plastic sheeting. Classes were suspended to make room for the displaced, and the
school's director says he does not know when lessons can resume. "We cannot put these people on
the street," he said.

Gran Grif, based in the nearby town of Savien, has waged a campaign of violence across the
Artibonite valley, the country's main rice-growing region, for more than two years. The group
has blocked the national road that connects Port-au-Prince to the north, extorting drivers and
kidnapping travellers, and it has attacked police stations in several communes.

Farmers who fled say their fields have been abandoned just before the harvest. Some have tried
to return during the day to collect what they can, but gang members have occupied parts of the
town and have fired on people approaching the bridge. The rice that does reach the market in
Saint-Marc sells at almost twice last year's price.

The government promised financial help to the families of the victims, but most survivors
interviewed by Caribbean Wire said they had received nothing. The ministry responsible said
lists of beneficiaries were still being compiled and that payments would begin before the end of
the year.

Security has improved slightly along the coast since a joint deployment of Haitian police and
officers of the Multinational Security Support mission arrived in Saint-Marc two weeks ago.
Patrols now run daily on the main road through the city. But officers have not yet entered
Pont-Sonde itself, and commanders acknowledge that they lack the numbers to hold it.

Local leaders have asked the authorities to build a permanent police station in the town and to
provide trauma counselling for survivors, many of whom saw relatives killed. A psychologist
working with an aid group said children at the sites were waking at night screaming and refusing
to eat.

=== gb-gsf-followup | Global Bulletin | en | gsf-vote | gb-unsc-renewal
Security Council replaces Kenya-led mission with larger gang suppression force

UNITED NATIONS - The United Nations Security Council on Tuesday approved a new Gang Suppression
Force for Haiti with up to 5,500 personnel, replacing the Kenya-led Multinational Security
Support mission that has struggled for more than a year with too few officers and too little
money.

The resolution, drafted by the United States and Panama, passed with twelve votes in favour and
three abstentions. It creates a United Nations support office to provide the new force with
fuel, rations, transport and medical care, addressing one of the main weaknesses of the mission
it replaces.

The original mission was authorised in October 2023 and renewed a year later. It has never
reached its planned strength of 2,500 personnel, and its commanders have said openly that they
could clear neighbourhoods but not hold them. The force depends on voluntary contributions to a
trust fund that has received only a fraction of the money it needs.

Supporters of the new resolution said the Gang Suppression Force would have a clearer mandate to
conduct targeted operations against armed groups, in cooperation with the Haitian National
Police. Critics warned that a more aggressive force operating in crowded neighbourhoods could
cause civilian casualties and urged strict rules of engagement.

Kenya said it would keep its officers in Haiti during the transition and was ready to contribute
to the new force. Diplomats said several countries in Latin America and Africa had expressed
interest in sending troops, but that commitments would depend on the financing arrangements.

In Port-au-Prince, the transitional authorities welcomed the decision. Gang violence killed more
than 4,000 people in the first nine months of the year, according to the United Nations, and the
number of people displaced has risen above 1.3 million.

The new force's first units are not expected before early next year. Until then, the existing
mission and the Haitian police will have to hold the line against gangs that have continued to
expand into areas outside the capital, including the Centre department and the outskirts of
Mirebalais.
"""

SITES = (
    Site(
        name="Island Times Online",
        header="Island Times Online | Home | News | Caribbean | World | Business | Sport | "
        "Opinion | Video | Podcasts | Subscribe | Sign in | Search",
        cookie="We use cookies and similar technologies to improve your experience, personalise "
        "content and ads, and analyse our traffic. By clicking Accept all you agree to the "
        "storing of cookies on your device. You can change your preferences at any time under "
        "Privacy settings. Accept all | Reject all | Manage preferences",
        related=(
            "Related stories:",
            "Jamaica sends more soldiers to support regional security efforts",
            "Fuel shortages hit Caribbean islands as shipping costs climb",
            "Opinion: What the region owes its neighbours in a crisis",
            "Cruise arrivals rebound to record levels this winter",
            "Watch: Our correspondent on the road between two capitals",
        ),
        newsletter="Get the morning briefing. The stories that matter across the islands, in "
        "your inbox every weekday at 6am. Enter your email address. Sign up. You can "
        "unsubscribe at any time.",
        footer="About us | Contact | Advertise | Careers | Terms of use | Privacy policy | "
        "Cookie policy | Corrections | Copyright 2025 Island Times Media Group. All rights "
        "reserved. Reproduction in whole or in part without permission is prohibited.",
    ),
    Site(
        name="AfroNews Hub",
        header="AfroNews Hub - Breaking news from across Africa | Latest | Kenya | Uganda | "
        "Tanzania | Nigeria | South Africa | Diaspora | Tech | Markets | Live TV",
        cookie="This website uses cookies. We and our partners process data to provide and "
        "improve our services, measure the performance of ads and content, and develop new "
        "features. Continue to use the site to accept, or read our cookie notice to learn "
        "more. OK",
        related=(
            "Trending now:",
            "Shilling steadies against the dollar after central bank move",
            "Teachers' union calls off strike after late-night talks",
            "Five things to know before markets open today",
            "Long rains expected to start late, forecasters say",
            "Photos: Marathon champions welcomed home in Eldoret",
        ),
        newsletter="Never miss a story. Join 200,000 readers who get our free daily newsletter "
        "and breaking news alerts. Subscribe now.",
        footer="AfroNews Hub is not responsible for the content of external sites. Read about "
        "our approach to external linking. Follow us on Facebook, X, Instagram, TikTok and "
        "WhatsApp. Copyright 2025 AfroNews Hub Limited. All rights reserved.",
    ),
    Site(
        name="World Report Daily",
        header="WORLD REPORT DAILY. Menu. World. Americas. Africa. Europe. Asia. Middle East. "
        "Politics. Climate. Health. Science. Travel. Newsletters. Log in. Subscribe for 1 "
        "dollar a week.",
        cookie="Your privacy choices. We and our 843 partners store and access information on "
        "your device, such as cookies, and process personal data, such as unique identifiers "
        "and standard information sent by a device, for personalised advertising and "
        "content, advertising and content measurement, audience research and services "
        "development. I accept. Show purposes.",
        related=(
            "More from World Report Daily:",
            "Live updates: Leaders gather for climate summit as talks stall",
            "Analysis: Why peacekeeping missions keep running out of money",
            "The week in pictures",
            "Opinion: The forgotten crises of 2025",
            "Inside the race to build cheaper armoured vehicles",
        ),
        newsletter="Sign up for The World Today, our free newsletter with the day's top "
        "international stories and analysis from our correspondents around the globe.",
        footer="World Report Daily. Help center. Contact us. Work with us. Advertise. "
        "Accessibility. Terms of service. Privacy notice. Do not sell or share my personal "
        "information. Copyright 2025 World Report Daily Company.",
    ),
    Site(
        name="Le Journal des Caraibes",
        header="Le Journal des Caraïbes | Accueil | Actualités | Haïti | Caraïbes | Monde | "
        "Économie | Culture | Sports | Opinions | Abonnez-vous | Connexion",
        cookie="Ce site utilise des cookies pour améliorer votre expérience de navigation, "
        "réaliser des statistiques de visites et vous proposer des contenus et publicités "
        "adaptés à vos centres d'intérêt. Tout accepter | Tout refuser | Paramétrer",
        related=(
            "À lire aussi :",
            "Carnaval : les préparatifs se poursuivent malgré l'incertitude",
            "Le prix du riz local atteint un nouveau record",
            "Éditorial : pour une vraie politique de la jeunesse",
            "Football : la sélection nationale prépare les éliminatoires",
            "Diaspora : les transferts d'argent en hausse",
        ),
        newsletter="Recevez chaque matin l'essentiel de l'actualité. Inscrivez-vous à notre "
        "lettre d'information gratuite.",
        footer="Mentions légales | Politique de confidentialité | Contact | Publicité | "
        "Copyright 2025 Le Journal des Caraïbes. Tous droits réservés.",
    ),
)

SYNONYMS = {
    "said": "stated", "says": "states", "told": "informed", "officials": "authorities",
    "officers": "personnel", "police": "law enforcement", "killed": "slain", "attack": "assault",
    "residents": "locals", "capital": "city", "mission": "operation", "gangs": "armed groups",
    "government": "administration", "people": "persons", "about": "around", "more": "over",
    "country": "nation", "began": "started", "help": "assistance", "money": "funds",
    "large": "big", "largest": "biggest",
    "difficult": "hard", "during": "throughout", "however": "but", "still": "yet",
    "announced": "declared", "warned": "cautioned", "arrived": "landed", "area": "zone",
    "homes": "houses", "children": "kids", "questions": "doubts", "several": "a number of",
    "force": "contingent", "violence": "bloodshed", "pledged": "promised", "fled": "escaped",
    "deployment": "dispatch", "troops": "soldiers", "support": "backing", "urged": "called on",
    "main": "principal", "hospital": "clinic", "town": "village", "road": "highway",
    "a\u00e9roport": "a\u00e9rodrome", "gouvernement": "ex\u00e9cutif", "policiers": "agents",
    "pandillas": "bandas", "misi\u00f3n": "operaci\u00f3n", "dijo": "afirm\u00f3",
}  # fmt: skip
FILLERS = {
    "en": ("also", "now", "reportedly", "again", "already", "indeed"),
    "fr": ("aussi", "encore", "d\u00e9j\u00e0", "notamment"),
    "es": ("tambi\u00e9n", "ya", "ahora", "adem\u00e1s"),
}
COUNTRIES = {
    "NAIROBI": "Kenya",
    "PORT-AU-PRINCE": "Haiti",
    "SAINT-MARC": "Haiti",
    "CIUDAD DE GUATEMALA": "Guatemala",
}
REPUBLISHERS = ("Regional Press Service", "Pan-African Newswire", "Hemisphere Report")
DATELINE = re.compile(r"^([A-Z][A-Z .,'\u00c0-\u00dd-]+) - ")


def rng_for(*keys: str) -> random.Random:
    """A generator seeded by the set version and the keys (str seeds are stable across runs)."""
    return random.Random(":".join((SEED, *keys)))


def light_edits(text: str, rng: random.Random, lang: str, rate: float = 0.05) -> str:
    """Copy-edit about ``rate`` of the words: synonyms, dropped words, inserted words."""
    tokens = text.split(" ")
    words = [i for i, tok in enumerate(tokens) if re.search(r"\w", tok)]
    chosen = set(rng.sample(words, max(1, round(rate * len(words)))))
    out: list[str] = []
    for i, token in enumerate(tokens):
        if i not in chosen:
            out.append(token)
            continue
        match = re.match(r"^(\W*)(\w[\w'\u2019-]*)(\W*)$", token)
        core = match.group(2) if match else ""
        if match and core.lower() in SYNONYMS:
            replacement = SYNONYMS[core.lower()]
            if core[0].isupper():
                replacement = replacement[0].upper() + replacement[1:]
            out.append(match.group(1) + replacement + match.group(3))
        elif re.fullmatch(r"\d{1,3}(,\d{3})+", token.rstrip(".,;:")):
            out.append(token[:-1].replace(",", "") + token[-1])  # 1,000 -> 1000
        elif rng.random() < 0.5 and match and not match.group(3):
            continue  # drop a word that ends no sentence or clause
        else:
            out.append(rng.choice(FILLERS[lang]))
            out.append(token)
    return " ".join(out)


def edit_paragraphs(paragraphs: list[str], rng: random.Random, lang: str) -> list[str]:
    return [light_edits(p, rng, lang) for p in paragraphs]


def cut(paragraphs: list[str], share: float) -> list[str]:
    """The leading sentences that hold ``share`` of the words (an excerpt or a trimmed copy)."""
    total = sum(len(p.split()) for p in paragraphs)
    kept: list[str] = []
    count = 0
    for paragraph in paragraphs:
        sentences = re.split(
            r"(?<=[.!?\u00bb\u201d\"])\s+(?=[A-Z\u00c0-\u00dd\u00ab\u201c\"])", paragraph
        )
        taken: list[str] = []
        for sentence in sentences:
            if count >= share * total:
                break
            taken.append(sentence)
            count += len(sentence.split())
        if taken:
            kept.append(" ".join(taken))
        if count >= share * total:
            break
    return kept


def lead_and_quote(article: Article, other: Article) -> list[str]:
    """A short brief: the lead paragraph and the paragraph that shares most with ``other``
    (its quote), the hard case where a shared quote is a large part of a short text."""

    def grams(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"\w+", text.lower())
        return {tuple(words[i : i + 6]) for i in range(len(words) - 5)}

    theirs = grams(other.text)
    best = max(article.paragraphs[1:], key=lambda p: len(grams(p) & theirs))
    return [article.paragraphs[0], best]


def wrap(site: Site, paragraphs: list[str], title: str) -> list[str]:
    """The article inside another site's page furniture."""
    return [
        site.header,
        site.cookie,
        title,
        *paragraphs,
        site.newsletter,
        "\n".join(site.related),
        site.footer,
    ]


def new_headline(article: Article, rng: random.Random) -> str:
    lead = DATELINE.sub("", article.paragraphs[0]).split()
    words = lead[: rng.randint(7, 11)]
    return " ".join(words).rstrip(",;:") + rng.choice(("", ": what we know", " - report"))


def republish(article: Article, rng: random.Random) -> tuple[str, list[str]]:
    """New headline, a republisher's dateline and credit lines, same body."""
    agency = rng.choice(REPUBLISHERS)
    paragraphs = list(article.paragraphs)
    first = paragraphs[0]
    match = DATELINE.match(first)
    place = match.group(1) if match else "PORT-AU-PRINCE"
    country = COUNTRIES.get(place)
    where = f"{place}, {country}" if country else place
    paragraphs[0] = f"{where} ({agency}) \u2014 " + (first[match.end() :] if match else first)
    byline = f"By {agency} staff | {rng.randint(1, 28)} {rng.choice(('Jan', 'Mar', 'Oct'))} 2025"
    credit = (
        f"This article was first published by {article.outlet} and is republished by {agency} "
        "under a content-sharing agreement. Share this story: Facebook | X | WhatsApp | Email."
    )
    return new_headline(article, rng), [byline, *paragraphs, credit]


def reorder(article: Article, rng: random.Random) -> list[str]:
    paragraphs = list(article.paragraphs)
    original = list(paragraphs)
    while paragraphs == original:
        rng.shuffle(paragraphs)
    return paragraphs


def restyle(text: str, rng: random.Random) -> str:
    """Only typography and encoding: quotes, dashes, spaces, line ends, Unicode forms."""
    text = re.sub(r'"([^"]*)"', "\u201c\\1\u201d", text)
    text = text.replace("\u201c", '"').replace("\u201d", '"') if rng.random() < 0.3 else text
    text = re.sub(r"(\w)'(\w)", "\\1\u2019\\2", text)
    text = text.replace(" - ", " \u2014 ").replace("...", "\u2026")
    text = unicodedata.normalize("NFD", text)
    text = text.replace("fi", "\ufb01", 3)
    text = re.sub(r"\b20(\d\d)\b", lambda m: "\uff12\uff10" + m.group(1), text, count=2)
    words = text.split(" ")
    for i in rng.sample(range(len(words)), k=min(12, len(words))):
        words[i] = words[i] + rng.choice(("\u00a0", "  ", "\t", " \u200b"))
    text = " ".join(words)
    return text.replace("\n\n", rng.choice(("\r\n\r\n", "\n", "\n \n")))


def pair(
    kind: str,
    label: str,
    a: Article,
    b: Article | None = None,
    *,
    a_side: tuple[str, list[str] | str] | None = None,
    b_side: tuple[str, list[str] | str] | None = None,
) -> dict[str, object]:
    """One labeled pair; ``a_side``/``b_side`` replace an article by a (title, body) variant."""

    def side(article: Article, override: tuple[str, list[str] | str] | None) -> dict[str, str]:
        if override is None:
            return {"title": article.title, "text": article.text}
        title, body = override
        return {"title": title, "text": body if isinstance(body, str) else "\n\n".join(body)}

    other = b or a
    return {
        "a": side(a, a_side),
        "b": side(other, b_side),
        "label": label,
        "kind": kind,
        "a_base": a.id,
        "b_base": other.id,
    }


CopyMaker = Callable[[Article, random.Random], tuple[str, list[str] | str]]


def copy_makers() -> dict[str, CopyMaker]:
    """Each transformation that leaves the same article: name -> (title, body) of the copy."""

    def site_for(article: Article, rng: random.Random) -> Site:
        french = [s for s in SITES if "Journal" in s.name]
        return rng.choice(french if article.lang == "fr" else SITES[:3])

    def syndicated(article: Article, rng: random.Random) -> tuple[str, list[str]]:
        body = cut(edit_paragraphs(list(article.paragraphs), rng, article.lang), 0.7)
        return new_headline(article, rng), wrap(site_for(article, rng), body, article.title)

    return {
        "republished": republish,
        "light_edits": lambda a, r: (a.title, edit_paragraphs(list(a.paragraphs), r, a.lang)),
        "excerpt_60": lambda a, r: (a.title, cut(list(a.paragraphs), 0.6)),
        "reordered": lambda a, r: (a.title, reorder(a, r)),
        "boilerplate_wrap": lambda a, r: (
            a.title,
            wrap(site_for(a, r), list(a.paragraphs), a.title),
        ),
        "syndicated": syndicated,
        "restyled": lambda a, r: (a.title, restyle(a.text, r)),
    }


def build(articles: list[Article]) -> list[dict[str, object]]:
    """All pairs: every copy transformation of every article, then the distinct pairs."""
    by_id = {a.id: a for a in articles}
    out: list[dict[str, object]] = []
    makers = copy_makers()
    for article in articles:
        for kind, make in makers.items():
            copy = make(article, rng_for(article.id, kind))
            out.append(pair(kind, "copy", article, b_side=copy))

    # Independent reports of one event by different outlets, sharing one or two quotes; the
    # excerpt and syndicated variants make the shared quote a larger share of one side.
    for a, b in combinations(articles, 2):
        if a.event != b.event or a.outlet == b.outlet or {a.follows, b.follows} & {a.id, b.id}:
            continue
        out.append(pair("same_event_other_outlet", "distinct", a, b))
        if a.lang != b.lang:
            continue
        for first, second in ((a, b), (b, a)):
            excerpt = (first.title, cut(list(first.paragraphs), 0.6))
            out.append(pair("same_event_excerpt", "distinct", first, second, a_side=excerpt))
        for first, second in ((a, b), (b, a)):
            brief = (first.title, lead_and_quote(first, second))
            out.append(pair("same_event_brief", "distinct", first, second, a_side=brief))
            out.append(pair("lead_and_quote_excerpt", "copy", first, b_side=brief))
        rng = rng_for(a.id, b.id, "syndicated")
        title, body = makers["syndicated"](a, rng)
        out.append(pair("same_event_syndicated", "distinct", a, b, a_side=(title, body)))

    # Follow-up stories by the same outlet, which reuse a background paragraph; also both in
    # the outlet's own page furniture, as a poor extractor would leave them.
    for article in articles:
        if article.follows:
            first = by_id[article.follows]
            out.append(pair("follow_up_same_outlet", "distinct", first, article))
            site = SITES[0] if article.lang == "en" else SITES[3]
            out.append(
                pair(
                    "follow_up_same_site_boilerplate",
                    "distinct",
                    first,
                    article,
                    a_side=(first.title, wrap(site, list(first.paragraphs), first.title)),
                    b_side=(article.title, wrap(site, list(article.paragraphs), article.title)),
                )
            )

    # Different events on the same topic (Haiti, Kenya, the mission), some in one site's
    # page furniture (the shared boilerplate must not make them one article).
    rng = rng_for("different-events")
    unrelated = [
        (a, b)
        for a, b in combinations(articles, 2)
        if a.event != b.event and not {a.follows, b.follows} & {a.id, b.id}
    ]
    for a, b in rng.sample(unrelated, 30):
        out.append(pair("different_event_same_topic", "distinct", a, b))
    for a, b in rng.sample(unrelated, 12):
        site = rng.choice(SITES[:3])
        out.append(
            pair(
                "different_event_same_site_boilerplate",
                "distinct",
                a,
                b,
                a_side=(a.title, wrap(site, list(a.paragraphs), a.title)),
                b_side=(b.title, wrap(site, list(b.paragraphs), b.title)),
            )
        )
    return out


def main() -> int:
    articles = parse_articles(ARTICLES)
    pairs = build(articles)
    with OUTPUT.open("w", encoding="utf-8", newline="\n") as handle:
        for item in pairs:
            handle.write(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n")
    copies = sum(p["label"] == "copy" for p in pairs)
    print(f"{OUTPUT.name}: {len(pairs)} pairs ({copies} copies) from {len(articles)} articles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
