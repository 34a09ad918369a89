/*
 * Synthetic catalogue for `make bench`: prints N rows of the `title` table in COPY text
 * format, with the columns
 *
 *   kind, title, creators, creator_names, language, publisher, published, description,
 *   subjects, file_sha256, file_path, file_size, media_type, duration_s, created_at
 *
 * Titles, names and descriptions are built from real French, English, German and
 * Spanish words (with their accents), drawn with Zipf-like weights so that a few words
 * are very common and most are rare; made-up place and family names give the long tail
 * of terms a real catalogue has. About a hundred real works (Les Misérables, Le Petit
 * Prince, Pride and Prejudice, ...) appear in several editions, spread over the rows.
 *
 *   gen_titles N [SEED [SHARD NSHARDS]]
 *
 * Row i depends only on SEED and i, so shards (rows with i % NSHARDS == SHARD) can be
 * generated and loaded in parallel and together give the same rows as one run.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_OF(a) (sizeof(a) / sizeof *(a))

/* ---------------------------------------------------------------- random numbers */

static uint64_t rng;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t next(void)
{
    rng += 0x9e3779b97f4a7c15ULL;
    return mix64(rng);
}

static double unit(void) /* [0, 1) */
{
    return (double)(next() >> 11) * (1.0 / 9007199254740992.0);
}

static int below(int n)
{
    return (int)(unit() * n);
}

static int between(int lo, int hi) /* inclusive */
{
    return lo + below(hi - lo + 1);
}

static int chance(double p)
{
    return unit() < p;
}

/* ---------------------------------------------------------------- Zipf-weighted lists */

struct list {
    const char *const *w;
    int n;
    double s;    /* exponent: weight of rank r is 1 / (r + 1)^s */
    double *cdf; /* built on first use */
};

#define LIST(arr, exp) {arr, (int)N_OF(arr), exp, NULL}

static double zpow(int r, double s)
{
    return pow(r + 1.0, -s);
}

static const char *pick(struct list *l)
{
    if (!l->cdf) {
        l->cdf = malloc(sizeof(double) * (size_t)l->n);
        if (!l->cdf) {
            perror("gen_titles");
            exit(1);
        }
        double acc = 0.0;
        for (int i = 0; i < l->n; i++)
            l->cdf[i] = acc += zpow(i, l->s);
    }
    double u = unit() * l->cdf[l->n - 1];
    int lo = 0, hi = l->n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (l->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return l->w[lo];
}

static const char *any(const char *const *w, int n)
{
    return w[below(n)];
}
#define ANY(arr) any(arr, (int)N_OF(arr))

/* ---------------------------------------------------------------- words */

/* French nouns, roughly most common first. */
static const char *const fr_nm[] = {
    "amour", "temps", "monde", "jour", "homme", "cœur", "secret", "pays", "enfant", "voyage",
    "silence", "père", "ciel", "destin", "roi", "jardin", "chemin", "soleil", "vent", "rêve",
    "souvenir", "frère", "fils", "ami", "livre", "mystère", "château", "village", "prince", "hiver",
    "été", "printemps", "automne", "regard", "oiseau", "loup", "chien", "chat", "bateau", "cheval",
    "fleuve", "lac", "océan", "désert", "bois", "arbre", "feu", "sang", "trésor", "royaume",
    "empire", "soldat", "capitaine", "médecin", "juge", "voleur", "crime", "meurtre", "complot", "piège",
    "matin", "soir", "siècle", "passé", "retour", "départ", "exil", "chant", "poème", "miroir",
    "portrait", "masque", "visage", "corps", "esprit", "dieu", "diable", "ange", "dragon", "géant",
    "chevalier", "marchand", "pêcheur", "berger", "fantôme", "hôtel", "café", "train", "quai", "phare",
    "rivage", "sentier", "carnet", "journal", "orage", "hasard", "bonheur", "malheur", "chagrin", "désir",
    "espoir", "mensonge", "pardon", "serment", "testament", "héritage", "héritier", "labyrinthe", "jeu", "parfum",
    "goût", "pain", "vin", "sel", "or", "fer", "verre", "cristal", "étranger", "inconnu",
    "témoin", "lieutenant", "commissaire", "inspecteur", "élève", "maître", "professeur", "poète", "peintre", "musicien",
    "cimetière", "manoir", "moulin", "marais", "glacier", "volcan", "canal", "hameau", "couvent", "palais",
    "bal", "duel", "naufrage", "pèlerinage", "carnaval", "festin", "procès", "pacte", "oracle", "sortilège",
    "grimoire", "talisman", "corbeau", "renard", "hibou", "cerf", "sanglier", "taureau", "papillon", "poisson",
    "écrivain", "libraire", "horloger", "boulanger", "forgeron", "cordonnier", "vagabond", "orphelin", "bâtard", "évêque",
    "abîme", "éclat", "écho", "élan", "éveil", "horizon", "hôpital", "atelier", "ouvrage", "archipel",
};
static const char *const fr_nf[] = {
    "nuit", "vie", "mer", "mort", "guerre", "femme", "maison", "ville", "terre", "histoire",
    "mémoire", "lumière", "ombre", "fille", "mère", "forêt", "montagne", "rivière", "île", "plage",
    "lune", "étoile", "pluie", "neige", "tempête", "paix", "rue", "sœur", "reine", "princesse",
    "amie", "légende", "chanson", "lettre", "promesse", "vérité", "liberté", "beauté", "colère", "peur",
    "joie", "tristesse", "solitude", "jeunesse", "vieillesse", "enfance", "famille", "fortune", "gloire", "chute",
    "fuite", "quête", "route", "porte", "fenêtre", "chambre", "cuisine", "école", "église", "cathédrale",
    "abbaye", "tour", "prison", "frontière", "province", "campagne", "vallée", "colline", "source", "fontaine",
    "rose", "fleur", "herbe", "pomme", "cerise", "table", "robe", "plume", "clé", "épée",
    "couronne", "bague", "carte", "photographie", "musique", "danse", "fête", "saison", "semaine", "année",
    "heure", "promenade", "traversée", "aventure", "odyssée", "révolution", "république", "bataille", "victoire", "défaite",
    "trahison", "vengeance", "justice", "enquête", "affaire", "disparition", "rencontre", "absence", "patience", "innocence",
    "dame", "veuve", "servante", "comtesse", "duchesse", "marquise", "sorcière", "fée", "bête", "baleine",
    "jument", "chèvre", "louve", "hirondelle", "abeille", "cigale", "fourmi", "sirène", "ogresse", "nourrice",
    "misère", "folie", "grâce", "honte", "faute", "blessure", "cicatrice", "fièvre", "tendresse", "passion",
    "écume", "aube", "aurore", "éclipse", "épreuve", "énigme", "héroïne", "horloge", "armée", "âme",
    "côte", "baie", "falaise", "lande", "dune", "grotte", "mine", "usine", "ferme", "auberge",
};
/* masculine|feminine */
static const char *const fr_adj[] = {
    "petit|petite", "grand|grande", "noir|noire", "dernier|dernière", "blanc|blanche", "beau|belle",
    "vieux|vieille", "nouveau|nouvelle", "rouge|rouge", "premier|première", "secret|secrète", "perdu|perdue",
    "jeune|jeune", "bleu|bleue", "long|longue", "oublié|oubliée", "éternel|éternelle", "étrange|étrange",
    "sauvage|sauvage", "doux|douce", "cruel|cruelle", "heureux|heureuse", "triste|triste", "silencieux|silencieuse",
    "lointain|lointaine", "profond|profonde", "sombre|sombre", "clair|claire", "brûlant|brûlante", "glacé|glacée",
    "infini|infinie", "immobile|immobile", "invisible|invisible", "impossible|impossible", "fragile|fragile",
    "doré|dorée", "enchanté|enchantée", "maudit|maudite", "sacré|sacrée", "interdit|interdite", "caché|cachée",
    "endormi|endormie", "français|française", "parisien|parisienne", "breton|bretonne", "misérable|misérable",
    "amoureux|amoureuse", "fou|folle", "sage|sage", "libre|libre", "seul|seule", "pauvre|pauvre",
    "riche|riche", "blessé|blessée", "inachevé|inachevée", "vert|verte", "gris|grise", "court|courte",
    "terrible|terrible", "merveilleux|merveilleuse", "mystérieux|mystérieuse", "ancien|ancienne", "sublime|sublime",
    "dangereux|dangereuse", "fidèle|fidèle", "inquiet|inquiète", "amer|amère", "léger|légère", "sensible|sensible",
    "humain|humaine", "sentimental|sentimentale", "généreux|généreuse", "ténébreux|ténébreuse", "électrique|électrique",
};
static const char *const fr_verb[] = { /* third person singular */
    "découvre", "raconte", "retrouve", "quitte", "cherche", "rencontre", "apprend", "fuit", "traverse", "aime",
    "perd", "attend", "devient", "suit", "révèle", "cache", "comprend", "affronte", "poursuit", "trahit",
    "sauve", "protège", "rejoint", "oublie", "observe", "abandonne", "accepte", "construit", "détruit", "écrit",
    "lit", "peint", "chante", "enterre", "épouse", "soupçonne", "interroge", "guette", "élève", "accueille",
    "chevauche", "garde", "vole", "croise", "hérite", "reconnaît", "libère", "séduit", "venge", "explore",
};
static const char *const fr_inf[] = {
    "vivre", "aimer", "partir", "mourir", "rêver", "courir", "revenir", "oublier", "écrire", "danser",
    "chanter", "naître", "grandir", "survivre", "pardonner", "fuir", "attendre", "dormir", "voyager", "résister",
};
static const char *const fr_place[] = {
    "Paris", "Lyon", "Marseille", "Bretagne", "Provence", "Normandie", "Nantes", "Bordeaux", "Toulouse", "Lille",
    "Montréal", "Québec", "Bruxelles", "Genève", "Alger", "Dakar", "Venise", "Rome", "Alsace", "Corse",
    "Saint-Malo", "Brest", "Avignon", "Arles", "Chamonix", "Biarritz", "Étretat", "Honfleur", "Vézelay", "Carcassonne",
};
static const char *const fr_adv[] = {
    "un jour", "cette nuit-là", "depuis toujours", "dans la tourmente", "au fil des saisons", "peu à peu",
    "malgré tout", "au cœur de l'hiver", "à l'aube", "au bord du gouffre", "loin de tout", "sans le savoir",
};
static const char *const fr_genre[] = {
    "roman", "récit", "conte", "polar", "thriller", "roman historique", "premier roman", "roman graphique",
    "témoignage", "essai", "recueil de nouvelles", "roman d'aventures", "roman noir", "saga familiale",
};

static const char *const en_noun[] = {
    "love", "night", "time", "house", "world", "man", "heart", "life", "girl", "death",
    "war", "secret", "woman", "day", "child", "king", "city", "sea", "garden", "road",
    "river", "light", "shadow", "dream", "home", "game", "stone", "fire", "wind", "star",
    "moon", "sun", "blood", "queen", "prince", "princess", "book", "letter", "truth", "lie",
    "island", "forest", "mountain", "valley", "winter", "summer", "spring", "storm", "rain", "snow",
    "silence", "memory", "promise", "journey", "voyage", "kingdom", "empire", "soldier", "captain", "doctor",
    "thief", "murder", "crime", "detective", "witness", "stranger", "friend", "brother", "sister", "mother",
    "father", "daughter", "son", "wife", "husband", "widow", "bride", "lady", "lord", "duke",
    "horse", "wolf", "dog", "cat", "bird", "fox", "raven", "whale", "dragon", "giant",
    "ghost", "angel", "devil", "god", "witch", "wizard", "knight", "sword", "crown", "ring",
    "map", "key", "door", "window", "room", "tower", "castle", "church", "school", "hospital",
    "hotel", "station", "train", "ship", "boat", "harbour", "lighthouse", "bridge", "wall", "gate",
    "fortune", "glory", "hope", "fear", "anger", "grace", "sorrow", "joy", "pride", "prejudice",
    "sense", "sensibility", "persuasion", "expectation", "confession", "betrayal", "revenge", "justice", "mercy", "sin",
    "orchard", "meadow", "marsh", "moor", "heath", "cliff", "shore", "cove", "harvest", "orphan",
    "heir", "inheritance", "will", "diary", "journal", "photograph", "portrait", "mirror", "mask", "clock",
    "runner", "hunter", "dancer", "painter", "poet", "writer", "teacher", "student", "spy", "traitor",
};
static const char *const en_adj[] = {
    "last", "little", "dark", "new", "old", "lost", "great", "long", "black", "white",
    "red", "secret", "silent", "hidden", "broken", "golden", "silver", "wild", "strange", "quiet",
    "cold", "burning", "bright", "deep", "empty", "forgotten", "invisible", "impossible", "perfect", "beautiful",
    "terrible", "wicked", "gentle", "sweet", "bitter", "lonely", "dangerous", "crooked", "painted", "haunted",
    "endless", "savage", "sacred", "cursed", "distant", "fragile", "restless", "sleeping", "drowned", "stolen",
    "green", "blue", "grey", "brave", "foolish", "wise", "proud", "poor", "rich", "young",
};
static const char *const en_verb[] = { /* third person singular */
    "discovers", "finds", "returns", "leaves", "searches", "meets", "learns", "flees", "crosses", "loves",
    "loses", "waits", "becomes", "follows", "reveals", "hides", "understands", "faces", "pursues", "betrays",
    "saves", "protects", "joins", "forgets", "watches", "abandons", "accepts", "builds", "destroys", "writes",
    "reads", "paints", "sings", "buries", "marries", "suspects", "questions", "inherits", "runs", "rides",
};
static const char *const en_ing[] = {
    "running", "falling", "burning", "dreaming", "hunting", "waiting", "dancing", "flying", "singing", "walking",
    "leaving", "coming", "killing", "drowning", "sleeping", "breaking", "keeping", "finding", "losing", "remembering",
};
static const char *const en_place[] = {
    "London", "Paris", "New York", "Boston", "Yorkshire", "Cornwall", "Dublin", "Edinburgh", "Brooklyn", "Chicago",
    "Texas", "Montana", "California", "Venice", "Rome", "Oxford", "Cambridge", "Bath", "Devon", "Kent",
    "Manhattan", "Toronto", "Sydney", "Berlin", "Vienna", "Prague", "Mississippi", "Alaska", "Kansas", "Maine",
};
static const char *const en_adv[] = {
    "one summer", "that night", "years later", "against all odds", "in the dead of winter", "little by little",
    "despite everything", "at dawn", "on the edge of ruin", "far from home", "without knowing it", "long ago",
};
static const char *const en_genre[] = {
    "novel", "story", "tale", "thriller", "mystery", "historical novel", "debut novel", "graphic novel",
    "memoir", "essay", "short story collection", "adventure", "crime novel", "family saga",
};

static const char *const de_noun[] = {
    "Liebe", "Nacht", "Zeit", "Haus", "Welt", "Herz", "Leben", "Tod", "Krieg", "Geheimnis",
    "Frau", "Mann", "Kind", "König", "Stadt", "Meer", "Garten", "Weg", "Fluss", "Licht",
    "Schatten", "Traum", "Heimat", "Spiel", "Stein", "Feuer", "Wind", "Stern", "Mond", "Sonne",
    "Wald", "Berg", "Winter", "Sommer", "Sturm", "Schnee", "Erinnerung", "Reise", "Schuld", "Glück",
};
static const char *const de_adj[] = {
    "letzte", "kleine", "dunkle", "neue", "alte", "verlorene", "große", "lange", "schwarze", "weiße",
    "stille", "fremde", "kalte", "tiefe", "schöne", "müde", "grüne", "blaue", "glückliche", "schwere",
};
static const char *const de_word[] = {
    "der", "die", "das", "und", "ein", "eine", "in", "mit", "von", "zu", "im", "nach", "über", "für", "auf",
    "entdeckt", "findet", "verliert", "sucht", "liebt", "verlässt", "erzählt", "erinnert", "kehrt", "zurück",
};
static const char *const es_noun[] = {
    "amor", "noche", "tiempo", "casa", "mundo", "corazón", "vida", "muerte", "guerra", "secreto",
    "mujer", "hombre", "niño", "rey", "ciudad", "mar", "jardín", "camino", "río", "luz",
    "sombra", "sueño", "hogar", "juego", "piedra", "fuego", "viento", "estrella", "luna", "sol",
    "bosque", "montaña", "invierno", "verano", "tormenta", "nieve", "memoria", "viaje", "culpa", "soledad",
};
static const char *const es_adj[] = {
    "último", "pequeño", "oscuro", "nuevo", "viejo", "perdido", "gran", "largo", "negro", "blanco",
    "silencioso", "extraño", "frío", "profundo", "hermoso", "cansado", "verde", "azul", "feliz", "triste",
};
static const char *const es_word[] = {
    "el", "la", "los", "las", "y", "un", "una", "en", "con", "de", "del", "sobre", "para", "por", "sin",
    "descubre", "encuentra", "pierde", "busca", "ama", "abandona", "cuenta", "recuerda", "vuelve", "huye",
};

/* Names */
static const char *const fr_first[] = {
    "Marie", "Jean", "Pierre", "Anne", "Sophie", "Nicolas", "Julien", "Camille", "Claire", "Thomas",
    "Isabelle", "François", "Hélène", "Catherine", "Philippe", "Michel", "Nathalie", "Laurent", "Christine", "Olivier",
    "Émilie", "Léa", "Chloé", "Zoé", "Noémie", "Loïc", "Gaël", "Gaëlle", "Jérôme", "Sébastien",
    "Stéphane", "Benoît", "Anaïs", "Mathéo", "Clément", "Aurélien", "Aurélie", "Céline", "Valérie", "Frédéric",
    "Amélie", "Thérèse", "André", "René", "Raphaël", "Inès", "Maël", "Jérémie", "Agnès", "Cécile",
    "Élise", "Hervé", "Rémi", "Joël", "Irène", "Julie", "Antoine", "Louis", "Hugo", "Lucas",
    "Paul", "Jacques", "Alain", "Bernard", "Sylvie", "Martine", "Yves", "Thierry", "Pascal", "Guillaume",
    "Maxime", "Alexandre", "Vincent", "Éric", "Françoise", "Geneviève", "Solène", "Maëlle", "Léonie", "Margaux",
    "Adèle", "Béatrice", "Édouard", "Honoré", "Séverine", "Ségolène", "Josée", "Mélanie", "Nadège", "Bérénice",
};
static const char *const fr_last[] = {
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
    "Morel", "Girard", "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Legrand",
    "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin",
    "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Fontaine", "Chevalier", "Robin", "Masson", "Gérard",
    "Nguyen", "Boyer", "Denis", "Lemaire", "Duval", "Joly", "Gautier", "Roger", "Roche", "Roy",
    "Noël", "Meyer", "Lucas", "Meunier", "Pérez", "Marchand", "Dufour", "Blanchard", "Barbier", "Brun",
    "Brunet", "Schmitt", "Leroux", "Colin", "Renard", "Arnaud", "Rolland", "Caron", "Aubert", "Giraud",
    "Leclerc", "Vidal", "Bourgeois", "Renaud", "Lemoine", "Picard", "Gaillard", "Lacroix", "Fabre", "Dupuis",
    "Hubert", "Rivière", "Le Gall", "Moulin", "Berger", "Lecomte", "Ménard", "Fleury", "Deschamps", "Carpentier",
    "Maillard", "Aubry", "Vasseur", "Le Roux", "Renault", "Jacquet", "Prévost", "Poirier", "Charpentier", "Huet",
    "Carré", "Breton", "Rémy", "Perrot", "Guyot", "Bérard", "Létourneau", "Thériault", "Bélanger", "Côté",
    "Gagné", "Pelletier", "Bédard", "Lévesque", "Desjardins", "Tremblay", "Beauchêne", "Kerouac", "Le Clézio", "Daoud",
};
static const char *const en_first[] = {
    "James", "John", "Mary", "Elizabeth", "Sarah", "David", "Michael", "Emma", "Robert", "William",
    "Jennifer", "Emily", "Charlotte", "Thomas", "Richard", "Margaret", "Anne", "Catherine", "George", "Henry",
    "Olivia", "Amelia", "Grace", "Lucy", "Alice", "Harriet", "Edward", "Arthur", "Oliver", "Jack",
    "Harry", "Samuel", "Daniel", "Matthew", "Andrew", "Eleanor", "Rose", "Helen", "Ruth", "Virginia",
    "Zadie", "Hilary", "Ian", "Neil", "Colin", "Graham", "Nora", "Patricia", "Linda", "Susan",
    "Jessica", "Karen", "Joseph", "Charles", "Stephen", "Kazuo", "Toni", "Chimamanda", "Salman", "Margaret",
};
static const char *const en_last[] = {
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
    "Moore", "Jackson", "White", "Harris", "Martin", "Thompson", "Clark", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill",
    "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Parker", "Collins", "Edwards",
    "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Cooper", "Peterson", "Reed", "Bailey",
    "Bell", "Kelly", "Howard", "Ward", "Cox", "Richardson", "Wood", "Watson", "Brooks", "Bennett",
    "Gray", "Hughes", "Price", "Sanders", "Myers", "Long", "Ross", "Foster", "Powell", "Jenkins",
    "Perry", "Russell", "Sullivan", "Fisher", "Henderson", "Hamilton", "Graham", "Wallace", "Woods", "Cole",
    "West", "Jordan", "Owens", "Reynolds", "Ellis", "Harrison", "Gibson", "McDonald", "Marshall", "Murray",
    "Ford", "Webb", "Palmer", "Hunt", "Holmes", "Mills", "Knight", "Stone", "Hawkins", "Dunn",
    "Fletcher", "O'Brien", "O'Connor", "Byrne", "Doyle", "Walsh", "Fitzgerald", "Blackwood", "Ashworth", "Whitfield",
    "Pemberton", "Thornton", "Hale", "Sinclair", "Lockwood", "Atwood", "Ishiguro", "Morrison", "Adichie", "Rushdie",
};
static const char *const de_first[] = {"Hans", "Klaus", "Jürgen", "Günter", "Sabine", "Ute", "Jörg", "Anja",
                                       "Katharina", "Stefan", "Monika", "Wolfgang", "Petra", "Uwe", "Björn"};
static const char *const de_last[] = {"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
                                      "Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter",
                                      "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann", "Braun",
                                      "Krüger", "Hartmann", "Lange", "Jäger", "Vogel", "Köhler", "Böll"};
static const char *const es_first[] = {"José", "María", "Lucía", "Martín", "Sofía", "Andrés", "Inés", "Álvaro",
                                       "Jesús", "Ramón", "Carmen", "Javier", "Pilar", "Sergio", "Begoña"};
static const char *const es_last[] = {"García", "Fernández", "González", "Rodríguez", "López", "Martínez",
                                      "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández",
                                      "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Alonso", "Gutiérrez",
                                      "Navarro", "Torres", "Domínguez", "Vázquez", "Marías", "Cercas"};

/* Syllables for made-up places and families: the long tail of rare terms. */
static const char *const fr_syl1[] = {"Ker", "Mor", "Lan", "Val", "Bel", "Fon", "Roc", "Gal", "Bran", "Sau",
                                      "Lou", "Mar", "Vel", "Saint-", "Font", "Beau", "Châ", "Mont", "Ros", "Plou",
                                      "Tré", "Vaux", "Mal", "Cha", "Gré", "Lé", "Sé", "Aubé", "Ri", "Gui",
                                      "Pen", "Quim", "Lor", "Fer", "Cor", "Dou", "Es", "Ar", "Bou", "Pra"};
static const char *const fr_syl2[] = {"ma", "lo", "bri", "ti", "gné", "ra", "zé", "du", "vi", "sa",
                                      "ne", "rou", "qui", "lé", "pe", "go", "ca", "fa", "", "", ""};
static const char *const fr_end_c[] = {"ville", "court", "mont", "lac", "nac", "gnac", "bert", "rieux", "lieu",
                                       "vert", "mer", "zon", "tel", "dec", "quen", "rac", "noux", "ssac", "vès",
                                       "rine", "nay", "ret", "guen", "del"};
static const char *const fr_end_v[] = {"ac", "ec", "ières", "ange", "euse", "ois", "ard", "ais", "on",
                                       "ouët", "ès", "ène", "erre", "elles", "ault", "euil", "eux", "ic"};
static const char *const en_syl1[] = {"Ash", "Brook", "Thorn", "Wick", "Dale", "Black", "White", "Red", "Green",
                                      "Mar", "Wel", "Lan", "Hol", "Stan", "Kings", "Elder", "Raven", "Oak",
                                      "Wil", "Har", "Lock", "Fair", "Gold", "Stone", "Hazel", "Mill", "Cold", "Wyn"};
static const char *const en_syl2[] = {"", "", "", "er", "ing", "en", "ow", "ley", "ham", "s"};
static const char *const en_syl3[] = {"wood", "ford", "ham", "ley", "mere", "bury", "ridge", "cliffe", "ton",
                                      "shaw", "field", "combe", "worth", "hurst", "wick", "dale", "moor", "gate"};

/* Publishers, subjects, music */
static const char *const fr_publisher[] = {
    "Gallimard", "Le Livre de Poche", "Pocket", "Folio", "Flammarion", "Actes Sud", "Seuil", "Albin Michel",
    "Grasset", "J'ai lu", "Fayard", "Robert Laffont", "Hachette", "P.O.L", "Éditions de Minuit", "Stock",
    "Calmann-Lévy", "Julliard", "L'École des loisirs", "Bayard Jeunesse", "Milan", "Casterman", "Dargaud",
    "Éditions du Rouergue", "Zoé", "Boréal", "Éditions Québec Amérique", "Bibebook", "Ebooks libres et gratuits",
    "Éditions Thélème", "Audiolib", "Gaumont", "Pathé", "MK2", "StudioCanal", "Harmonia Mundi", "Naïve",
};
static const char *const en_publisher[] = {
    "Penguin Classics", "Vintage", "HarperCollins", "Bloomsbury", "Faber & Faber", "Penguin Random House",
    "Oxford University Press", "Wordsworth Editions", "Project Gutenberg", "Simon & Schuster", "Macmillan",
    "Hachette UK", "Little, Brown", "Picador", "Canongate", "Scholastic", "Orion", "Tor Books", "Standard Ebooks",
    "Naxos AudioBooks", "BBC Audio", "Deutsche Grammophon", "Sony Music", "Warner", "BBC", "Criterion",
};
static const char *const de_publisher[] = {"Suhrkamp", "S. Fischer", "Rowohlt", "dtv", "Hanser", "Reclam",
                                           "Kiepenheuer & Witsch", "Der Hörverlag"};
static const char *const es_publisher[] = {"Anagrama", "Alfaguara", "Tusquets", "Planeta", "Cátedra",
                                           "Penguin Random House Grupo Editorial", "Seix Barral", "Salamandra"};

static const char *const fr_subject[] = {
    "Roman", "Littérature française", "Roman policier", "Romance", "Thriller", "Science-fiction", "Fantastique",
    "Littérature jeunesse", "Histoire", "Biographie", "Poésie", "Théâtre", "Essai", "Philosophie", "Voyages",
    "Bande dessinée", "Classiques", "Littérature étrangère", "Nature", "Cuisine", "Sciences", "Économie",
    "Psychologie", "Art", "Société", "Politique", "Santé", "Développement personnel", "Religion", "Humour",
};
static const char *const en_subject[] = {
    "Fiction", "Literary fiction", "Mystery", "Romance", "Thriller", "Science fiction", "Fantasy",
    "Young adult", "History", "Biography", "Poetry", "Drama", "Essays", "Philosophy", "Travel",
    "Comics", "Classics", "Historical fiction", "Nature", "Cooking", "Science", "Business",
    "Psychology", "Art", "Society", "Politics", "Health", "Self-help", "Religion", "Humor",
};
static const char *const music_subject[] = {"Musique classique", "Classical", "Jazz", "Chanson française",
                                            "Rock", "Pop", "Musiques du monde", "Opéra", "Electronic", "Blues"};
static const char *const film_subject[] = {"Drame", "Comédie", "Documentaire", "Animation", "Film policier",
                                           "Drama", "Comedy", "Documentary", "Western", "Film noir"};

static const char *const composer[] = {
    "Johann Sebastian Bach", "Wolfgang Amadeus Mozart", "Ludwig van Beethoven", "Frédéric Chopin",
    "Claude Debussy", "Maurice Ravel", "Erik Satie", "Gabriel Fauré", "Hector Berlioz", "Camille Saint-Saëns",
    "Franz Schubert", "Johannes Brahms", "Antonio Vivaldi", "Georg Friedrich Händel", "Antonín Dvořák",
    "Piotr Ilitch Tchaïkovski", "Georges Bizet", "Giuseppe Verdi", "Francis Poulenc", "Olivier Messiaen",
};
static const char *const music_work[] = {
    "Suites pour violoncelle", "Nocturnes", "Gymnopédies", "Boléro", "Requiem", "Symphonie n° 9",
    "Concerto pour piano n° 2", "Les Quatre Saisons", "Préludes", "Clair de lune", "Sonates pour piano",
    "Variations Goldberg", "La Mer", "Carmen", "Le Carnaval des animaux", "Symphonie fantastique",
    "Messe en si mineur", "Études", "Quatuors à cordes", "La Flûte enchantée", "Don Giovanni", "Valses",
    "Symphonie du Nouveau Monde", "Le Lac des cygnes", "Water Music", "Impromptus", "Pavane", "Ballades",
};
static const char *const performer[] = {
    "Orchestre de Paris", "Orchestre national de France", "Berliner Philharmoniker", "London Symphony Orchestra",
    "Quatuor Ébène", "Hélène Grimaud", "Martha Argerich", "Glenn Gould", "Yo-Yo Ma", "Renaud Capuçon",
    "Gautier Capuçon", "Alexandre Tharaud", "Les Arts Florissants", "Il Giardino Armonico", "Natalie Dessay",
    "Cécilia Bartoli", "Jordi Savall", "Khatia Buniatishvili", "Bertrand Chamayou", "Sabine Devieilhe",
};

/* ---------------------------------------------------------------- real works */

struct work {
    const char *lang, *title, *author, *year, *subject;
    int editions;
};

static const struct work works[] = {
    {"fr", "Les Misérables", "Victor Hugo", "1862", "Classiques", 9},
    {"fr", "Notre-Dame de Paris", "Victor Hugo", "1831", "Classiques", 7},
    {"fr", "Les Contemplations", "Victor Hugo", "1856", "Poésie", 3},
    {"fr", "Quatrevingt-treize", "Victor Hugo", "1874", "Roman historique", 2},
    {"fr", "L'Homme qui rit", "Victor Hugo", "1869", "Classiques", 3},
    {"fr", "Les Travailleurs de la mer", "Victor Hugo", "1866", "Classiques", 2},
    {"fr", "Le Dernier Jour d'un condamné", "Victor Hugo", "1829", "Classiques", 4},
    {"fr", "Le Petit Prince", "Antoine de Saint-Exupéry", "1943", "Littérature jeunesse", 8},
    {"fr", "Vol de nuit", "Antoine de Saint-Exupéry", "1931", "Classiques", 3},
    {"fr", "Terre des hommes", "Antoine de Saint-Exupéry", "1939", "Classiques", 3},
    {"fr", "Courrier sud", "Antoine de Saint-Exupéry", "1929", "Classiques", 2},
    {"fr", "Madame Bovary", "Gustave Flaubert", "1857", "Classiques", 7},
    {"fr", "L'Éducation sentimentale", "Gustave Flaubert", "1869", "Classiques", 4},
    {"fr", "Salammbô", "Gustave Flaubert", "1862", "Roman historique", 3},
    {"fr", "Bouvard et Pécuchet", "Gustave Flaubert", "1881", "Classiques", 2},
    {"fr", "Trois contes", "Gustave Flaubert", "1877", "Classiques", 3},
    {"fr", "Germinal", "Émile Zola", "1885", "Classiques", 6},
    {"fr", "L'Assommoir", "Émile Zola", "1877", "Classiques", 4},
    {"fr", "Nana", "Émile Zola", "1880", "Classiques", 3},
    {"fr", "La Bête humaine", "Émile Zola", "1890", "Classiques", 4},
    {"fr", "Au Bonheur des Dames", "Émile Zola", "1883", "Classiques", 4},
    {"fr", "La Curée", "Émile Zola", "1871", "Classiques", 2},
    {"fr", "Les Trois Mousquetaires", "Alexandre Dumas", "1844", "Roman d'aventures", 6},
    {"fr", "Le Comte de Monte-Cristo", "Alexandre Dumas", "1844", "Roman d'aventures", 7},
    {"fr", "La Reine Margot", "Alexandre Dumas", "1845", "Roman historique", 3},
    {"fr", "Vingt ans après", "Alexandre Dumas", "1845", "Roman d'aventures", 3},
    {"fr", "Vingt mille lieues sous les mers", "Jules Verne", "1870", "Roman d'aventures", 6},
    {"fr", "Le Tour du monde en quatre-vingts jours", "Jules Verne", "1872", "Roman d'aventures", 6},
    {"fr", "Voyage au centre de la Terre", "Jules Verne", "1864", "Roman d'aventures", 5},
    {"fr", "De la Terre à la Lune", "Jules Verne", "1865", "Science-fiction", 3},
    {"fr", "L'Île mystérieuse", "Jules Verne", "1875", "Roman d'aventures", 4},
    {"fr", "Michel Strogoff", "Jules Verne", "1876", "Roman d'aventures", 3},
    {"fr", "Le Père Goriot", "Honoré de Balzac", "1835", "Classiques", 5},
    {"fr", "Eugénie Grandet", "Honoré de Balzac", "1833", "Classiques", 4},
    {"fr", "Illusions perdues", "Honoré de Balzac", "1843", "Classiques", 4},
    {"fr", "La Peau de chagrin", "Honoré de Balzac", "1831", "Classiques", 3},
    {"fr", "Le Rouge et le Noir", "Stendhal", "1830", "Classiques", 5},
    {"fr", "La Chartreuse de Parme", "Stendhal", "1839", "Classiques", 3},
    {"fr", "Bel-Ami", "Guy de Maupassant", "1885", "Classiques", 5},
    {"fr", "Une vie", "Guy de Maupassant", "1883", "Classiques", 3},
    {"fr", "Boule de suif", "Guy de Maupassant", "1880", "Classiques", 4},
    {"fr", "Le Horla", "Guy de Maupassant", "1887", "Fantastique", 4},
    {"fr", "Du côté de chez Swann", "Marcel Proust", "1913", "Classiques", 4},
    {"fr", "À l'ombre des jeunes filles en fleurs", "Marcel Proust", "1919", "Classiques", 3},
    {"fr", "Le Temps retrouvé", "Marcel Proust", "1927", "Classiques", 2},
    {"fr", "L'Étranger", "Albert Camus", "1942", "Classiques", 6},
    {"fr", "La Peste", "Albert Camus", "1947", "Classiques", 5},
    {"fr", "La Chute", "Albert Camus", "1956", "Classiques", 3},
    {"fr", "L'Avare", "Molière", "1668", "Théâtre", 4},
    {"fr", "Le Misanthrope", "Molière", "1666", "Théâtre", 3},
    {"fr", "Le Tartuffe", "Molière", "1664", "Théâtre", 3},
    {"fr", "Phèdre", "Jean Racine", "1677", "Théâtre", 3},
    {"fr", "Le Cid", "Pierre Corneille", "1637", "Théâtre", 3},
    {"fr", "Candide", "Voltaire", "1759", "Philosophie", 5},
    {"fr", "Les Liaisons dangereuses", "Choderlos de Laclos", "1782", "Classiques", 4},
    {"fr", "Chéri", "Colette", "1920", "Classiques", 2},
    {"fr", "Le Blé en herbe", "Colette", "1923", "Classiques", 2},
    {"fr", "La Mare au diable", "George Sand", "1846", "Classiques", 3},
    {"fr", "Le Grand Meaulnes", "Alain-Fournier", "1913", "Classiques", 4},
    {"fr", "Pêcheur d'Islande", "Pierre Loti", "1886", "Classiques", 2},
    {"fr", "Cyrano de Bergerac", "Edmond Rostand", "1897", "Théâtre", 5},
    {"fr", "Les Fleurs du mal", "Charles Baudelaire", "1857", "Poésie", 5},
    {"fr", "Les Chevaux du lac Ladoga", "Curzio Malaparte", "1944", "Littérature étrangère", 2},
    {"fr", "Le Cheval d'orgueil", "Pierre-Jakez Hélias", "1975", "Biographie", 3},
    {"en", "Pride and Prejudice", "Jane Austen", "1813", "Classics", 9},
    {"en", "Sense and Sensibility", "Jane Austen", "1811", "Classics", 5},
    {"en", "Emma", "Jane Austen", "1815", "Classics", 5},
    {"en", "Persuasion", "Jane Austen", "1817", "Classics", 4},
    {"en", "Mansfield Park", "Jane Austen", "1814", "Classics", 3},
    {"en", "Northanger Abbey", "Jane Austen", "1817", "Classics", 3},
    {"en", "Great Expectations", "Charles Dickens", "1861", "Classics", 6},
    {"en", "A Tale of Two Cities", "Charles Dickens", "1859", "Classics", 5},
    {"en", "Oliver Twist", "Charles Dickens", "1838", "Classics", 5},
    {"en", "David Copperfield", "Charles Dickens", "1850", "Classics", 4},
    {"en", "Bleak House", "Charles Dickens", "1853", "Classics", 3},
    {"en", "Jane Eyre", "Charlotte Brontë", "1847", "Classics", 6},
    {"en", "Wuthering Heights", "Emily Brontë", "1847", "Classics", 6},
    {"en", "Frankenstein", "Mary Shelley", "1818", "Science fiction", 5},
    {"en", "Moby-Dick", "Herman Melville", "1851", "Classics", 4},
    {"en", "The Adventures of Tom Sawyer", "Mark Twain", "1876", "Classics", 4},
    {"en", "Adventures of Huckleberry Finn", "Mark Twain", "1884", "Classics", 4},
    {"en", "Alice's Adventures in Wonderland", "Lewis Carroll", "1865", "Young adult", 6},
    {"en", "The Picture of Dorian Gray", "Oscar Wilde", "1890", "Classics", 5},
    {"en", "Mrs Dalloway", "Virginia Woolf", "1925", "Literary fiction", 4},
    {"en", "To the Lighthouse", "Virginia Woolf", "1927", "Literary fiction", 3},
    {"en", "The Hound of the Baskervilles", "Arthur Conan Doyle", "1902", "Mystery", 5},
    {"en", "A Study in Scarlet", "Arthur Conan Doyle", "1887", "Mystery", 3},
    {"en", "The Call of the Wild", "Jack London", "1903", "Classics", 4},
    {"en", "White Fang", "Jack London", "1906", "Classics", 3},
    {"en", "Black Beauty", "Anna Sewell", "1877", "Young adult", 3},
    {"en", "Middlemarch", "George Eliot", "1871", "Classics", 3},
    {"en", "Tess of the d'Urbervilles", "Thomas Hardy", "1891", "Classics", 3},
    {"en", "Heart of Darkness", "Joseph Conrad", "1899", "Classics", 4},
    {"en", "The Great Gatsby", "F. Scott Fitzgerald", "1925", "Classics", 5},
    {"en", "Dracula", "Bram Stoker", "1897", "Fantasy", 5},
    {"en", "Running with Scissors", "Augusten Burroughs", "2002", "Biography", 2},
    {"en", "The Running Man", "Stephen King", "1982", "Thriller", 3},
    {"en", "War Horse", "Michael Morpurgo", "1982", "Young adult", 3},
    {"en", "All the Pretty Horses", "Cormac McCarthy", "1992", "Fiction", 3},
    {"es", "Don Quijote de la Mancha", "Miguel de Cervantes", "1605", "Clásicos", 4},
    {"es", "Cien años de soledad", "Gabriel García Márquez", "1967", "Novela", 3},
    {"de", "Die Leiden des jungen Werthers", "Johann Wolfgang von Goethe", "1774", "Klassiker", 3},
    {"de", "Der Zauberberg", "Thomas Mann", "1924", "Klassiker", 2},
    {"de", "Die Verwandlung", "Franz Kafka", "1915", "Klassiker", 4},
};

/* ---------------------------------------------------------------- string building */

struct buf {
    char s[8192];
    size_t n;
};

static void put(struct buf *b, const char *s)
{
    size_t l = strlen(s);
    if (b->n + l >= sizeof b->s)
        l = sizeof b->s - 1 - b->n;
    memcpy(b->s + b->n, s, l);
    b->n += l;
    b->s[b->n] = 0;
}

static void putc_(struct buf *b, char c)
{
    if (b->n + 1 < sizeof b->s) {
        b->s[b->n++] = c;
        b->s[b->n] = 0;
    }
}

static void putsp(struct buf *b, const char *s)
{
    if (b->n && b->s[b->n - 1] != ' ' && b->s[b->n - 1] != '\'')
        putc_(b, ' ');
    put(b, s);
}

static void reset(struct buf *b)
{
    b->n = 0;
    b->s[0] = 0;
}

static int starts_vowel(const char *w)
{
    unsigned char c = (unsigned char)w[0];
    if (strchr("aeiouyhAEIOUYH", c) && c)
        return 1;
    if (c == 0xC3) /* à â ä è é ê ë î ï ô ... and their capitals (not ç) */
        return (unsigned char)w[1] != 0xA7 && (unsigned char)w[1] != 0x87;
    if (c == 0xC5 && ((unsigned char)w[1] == 0x93 || (unsigned char)w[1] == 0x92)) /* œ Œ */
        return 1;
    return 0;
}

/* Uppercases the first letter at s (ASCII, Latin-1 supplement, œ). */
static void upper_at(char *s)
{
    unsigned char *u = (unsigned char *)s;
    if (u[0] >= 'a' && u[0] <= 'z')
        u[0] = (unsigned char)(u[0] - 32);
    else if (u[0] == 0xC3 && u[1] >= 0xA0 && u[1] <= 0xBE && u[1] != 0xB7)
        u[1] = (unsigned char)(u[1] - 0x20);
    else if (u[0] == 0xC5 && u[1] == 0x93)
        u[1] = 0x92;
}

static void title_case_en(char *s)
{
    static const char *const small[] = {"of", "the", "a", "an", "and", "in", "on", "at", "for", "to", "with", "from", "by"};
    int first = 1;
    for (char *p = s; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t l = strcspn(p, " ");
        int is_small = 0;
        for (size_t i = 0; i < N_OF(small); i++)
            if (strlen(small[i]) == l && !strncmp(p, small[i], l))
                is_small = 1;
        if (first || !is_small)
            upper_at(p);
        first = 0;
        p += l;
    }
}

/* French plural of a noun or masculine adjective */
static void fr_plural(char *out, size_t cap, const char *w)
{
    size_t l = strlen(w);
    if (l && strchr("sxz", w[l - 1]))
        snprintf(out, cap, "%s", w);
    else if (l > 2 && !strcmp(w + l - 2, "al") && strcmp(w, "bal") && strcmp(w, "festival"))
        snprintf(out, cap, "%.*saux", (int)(l - 2), w);
    else if ((l > 3 && !strcmp(w + l - 3, "eau")) || (l > 2 && !strcmp(w + l - 2, "eu")) || !strcmp(w, "hibou"))
        snprintf(out, cap, "%sx", w);
    else
        snprintf(out, cap, "%ss", w);
}

static void adj_form(char *out, size_t cap, const char *pair, int fem, int plural)
{
    const char *bar = strchr(pair, '|');
    char one[64];
    if (fem)
        snprintf(one, sizeof one, "%s", bar + 1);
    else
        snprintf(one, sizeof one, "%.*s", (int)(bar - pair), pair);
    if (!plural)
        snprintf(out, cap, "%s", one);
    else if (fem)
        snprintf(out, cap, "%s%s", one, one[strlen(one) - 1] == 's' ? "" : "s");
    else
        fr_plural(out, cap, one);
}

/* ---------------------------------------------------------------- lists with weights */

static struct list L_fr_nm = LIST(fr_nm, 1.0), L_fr_nf = LIST(fr_nf, 1.0), L_fr_adj = LIST(fr_adj, 0.9),
                   L_fr_verb = LIST(fr_verb, 0.8), L_fr_first = LIST(fr_first, 0.7), L_fr_last = LIST(fr_last, 0.8),
                   L_en_noun = LIST(en_noun, 1.0), L_en_adj = LIST(en_adj, 0.9), L_en_verb = LIST(en_verb, 0.8),
                   L_en_first = LIST(en_first, 0.7), L_en_last = LIST(en_last, 0.8), L_de_noun = LIST(de_noun, 1.0),
                   L_es_noun = LIST(es_noun, 1.0), L_fr_pub = LIST(fr_publisher, 1.0),
                   L_en_pub = LIST(en_publisher, 1.0), L_fr_subj = LIST(fr_subject, 1.0),
                   L_en_subj = LIST(en_subject, 1.0), L_fr_place = LIST(fr_place, 1.0),
                   L_en_place = LIST(en_place, 1.0);

/* A made-up place or family name: a rare term */
static void made_up(struct buf *b, int en)
{
    char w[96];
    if (en)
        snprintf(w, sizeof w, "%s%s%s", ANY(en_syl1), ANY(en_syl2), ANY(en_syl3));
    else {
        const char *a = ANY(fr_syl1), *m = ANY(fr_syl2);
        /* after a vowel, an ending that starts with a consonant */
        int vowel_before = *m || strchr("aeiouy", a[strlen(a) - 1]) || (unsigned char)a[strlen(a) - 1] >= 0x80;
        snprintf(w, sizeof w, "%s%s%s", a, m, vowel_before || chance(0.5) ? ANY(fr_end_c) : ANY(fr_end_v));
    }
    /* "Saint-" + lower-case syllable reads oddly: capitalise what follows the hyphen */
    char *h = strchr(w, '-');
    if (h && h[1])
        upper_at(h + 1);
    putsp(b, w);
}

/* French noun phrase: article + noun (+ adjective), with elision and plurals */
static void fr_np(struct buf *b, int definite, int allow_plural, int *fem_out)
{
    int fem = chance(0.5), plural = allow_plural && chance(0.2);
    const char *n = fem ? pick(&L_fr_nf) : pick(&L_fr_nm);
    char noun[96], adj[96];
    if (plural)
        fr_plural(noun, sizeof noun, n);
    else
        snprintf(noun, sizeof noun, "%s", n);
    int with_adj = chance(0.35);
    if (with_adj)
        adj_form(adj, sizeof adj, pick(&L_fr_adj), fem, plural);
    if (plural)
        putsp(b, definite ? "les" : "des");
    else if (definite && starts_vowel(noun)) {
        putsp(b, "l'");
    } else
        putsp(b, definite ? (fem ? "la" : "le") : (fem ? "une" : "un"));
    if (b->n && b->s[b->n - 1] == '\'')
        put(b, noun);
    else
        putsp(b, noun);
    if (with_adj)
        putsp(b, adj);
    if (fem_out)
        *fem_out = fem;
}

static void en_np(struct buf *b, int definite)
{
    int plural = chance(0.2);
    const char *adj = chance(0.35) ? pick(&L_en_adj) : NULL;
    const char *n = pick(&L_en_noun);
    char noun[64];
    size_t l = strlen(n);
    if (!plural)
        snprintf(noun, sizeof noun, "%s", n);
    else if (n[l - 1] == 's' || n[l - 1] == 'x' || (l > 1 && n[l - 1] == 'h'))
        snprintf(noun, sizeof noun, "%ses", n);
    else if (n[l - 1] == 'y' && !strchr("aeiou", n[l - 2]))
        snprintf(noun, sizeof noun, "%.*sies", (int)(l - 1), n);
    else if (!strcmp(n, "wolf") || !strcmp(n, "wife"))
        snprintf(noun, sizeof noun, "%.*sves", (int)(l - (n[l - 1] == 'e' ? 2 : 1)), n);
    else if (l >= 3 && !strcmp(n + l - 3, "man"))
        snprintf(noun, sizeof noun, "%.*smen", (int)(l - 3), n);
    else if (!strcmp(n, "child"))
        snprintf(noun, sizeof noun, "children");
    else
        snprintf(noun, sizeof noun, "%ss", n);
    if (definite || chance(0.5))
        putsp(b, "the");
    else if (!plural)
        putsp(b, starts_vowel(adj ? adj : noun) ? "an" : "a");
    if (adj)
        putsp(b, adj);
    putsp(b, noun);
}

static void fr_person(struct buf *b)
{
    putsp(b, pick(&L_fr_first));
    if (chance(0.15))
        made_up(b, 0);
    else
        putsp(b, pick(&L_fr_last));
}

static void en_person(struct buf *b)
{
    putsp(b, pick(&L_en_first));
    if (chance(0.15))
        made_up(b, 1);
    else
        putsp(b, pick(&L_en_last));
}

static void fr_title(struct buf *b)
{
    char w[64];
    int fem;
    switch (below(14)) {
    case 0:
    case 1:
        fr_np(b, 1, 1, NULL);
        break;
    case 2:
        fr_np(b, 1, 1, NULL);
        putsp(b, "de");
        made_up(b, 0);
        break;
    case 3:
        fr_np(b, 1, 1, NULL);
        putsp(b, "et");
        fr_np(b, 1, 1, NULL);
        break;
    case 4:
        fr_np(b, 1, 0, NULL);
        if (chance(0.5)) {
            const char *m = pick(&L_fr_nm);
            putsp(b, starts_vowel(m) ? "de l'" : "du");
            if (b->s[b->n - 1] == '\'')
                put(b, m);
            else
                putsp(b, m);
        } else {
            const char *f = pick(&L_fr_nf);
            putsp(b, starts_vowel(f) ? "de l'" : "de la");
            if (b->s[b->n - 1] == '\'')
                put(b, f);
            else
                putsp(b, f);
        }
        break;
    case 5:
        putsp(b, ANY(fr_inf));
        if (chance(0.5)) {
            putsp(b, chance(0.5) ? "à" : "pour");
            putsp(b, pick(&L_fr_place));
        } else
            fr_np(b, 1, 1, NULL);
        break;
    case 6:
        putsp(b, pick(&L_fr_first));
        putsp(b, "et");
        fr_np(b, 1, 1, NULL);
        break;
    case 7:
        fr_np(b, 1, 0, &fem);
        putsp(b, chance(0.5) ? "de" : "à");
        putsp(b, pick(&L_fr_place));
        break;
    case 8:
        putsp(b, "mémoires d'un");
        putsp(b, pick(&L_fr_nm));
        if (chance(0.5)) {
            adj_form(w, sizeof w, pick(&L_fr_adj), 0, 0);
            putsp(b, w);
        }
        break;
    case 9:
        putsp(b, "quand");
        fr_np(b, 1, 0, NULL);
        putsp(b, pick(&L_fr_verb));
        fr_np(b, 1, 1, NULL);
        break;
    case 10:
        adj_form(w, sizeof w, pick(&L_fr_adj), 1, 0);
        putsp(b, "la");
        putsp(b, w);
        putsp(b, pick(&L_fr_nf));
        break;
    case 11:
        putsp(b, "les");
        fr_plural(w, sizeof w, pick(&L_fr_nm));
        putsp(b, w);
        putsp(b, "de");
        made_up(b, 0);
        break;
    case 12:
        made_up(b, 0);
        break;
    default:
        fr_np(b, 0, 0, NULL);
        putsp(b, "pour");
        putsp(b, pick(&L_fr_first));
        break;
    }
    upper_at(b->s);
}

static void en_title(struct buf *b)
{
    switch (below(13)) {
    case 0:
    case 1:
        en_np(b, 1);
        break;
    case 2:
        en_np(b, 1);
        putsp(b, "of");
        made_up(b, 1);
        break;
    case 3:
        en_np(b, 1);
        putsp(b, "and");
        en_np(b, 1);
        break;
    case 4:
        en_np(b, 1);
        putsp(b, "of");
        en_np(b, 1);
        break;
    case 5:
        putsp(b, ANY(en_ing));
        putsp(b, chance(0.5) ? "in" : "with");
        if (chance(0.5))
            putsp(b, pick(&L_en_place));
        else
            en_np(b, 1);
        break;
    case 6: {
        putsp(b, pick(&L_en_first));
        put(b, "'s");
        putsp(b, pick(&L_en_noun));
        break;
    }
    case 7:
        en_np(b, 1);
        putsp(b, "in");
        putsp(b, pick(&L_en_place));
        break;
    case 8:
        putsp(b, "a");
        putsp(b, pick(&L_en_noun));
        putsp(b, "for");
        putsp(b, pick(&L_en_first));
        break;
    case 9:
        putsp(b, "when");
        en_np(b, 1);
        putsp(b, pick(&L_en_verb));
        break;
    case 10:
        putsp(b, ANY(en_ing));
        en_np(b, 1);
        break;
    case 11:
        made_up(b, 1);
        break;
    default:
        putsp(b, "the");
        putsp(b, pick(&L_en_adj));
        putsp(b, pick(&L_en_noun));
        break;
    }
    title_case_en(b->s);
}

static void other_title(struct buf *b, int es)
{
    if (es) {
        putsp(b, chance(0.5) ? "El" : "La");
        putsp(b, pick(&L_es_noun));
        if (chance(0.5))
            putsp(b, ANY(es_adj));
    } else {
        putsp(b, chance(0.5) ? "Die" : "Der");
        if (chance(0.5))
            putsp(b, ANY(de_adj));
        putsp(b, pick(&L_de_noun));
    }
    if (chance(0.3)) {
        putsp(b, es ? "del" : "des");
        putsp(b, es ? pick(&L_es_noun) : pick(&L_de_noun));
    }
}

/* A few sentences in the title's language */
static void description(struct buf *b, const char *lang, const char *title)
{
    int n = between(1, 3);
    if (!strcmp(lang, "fr")) {
        for (int i = 0; i < n; i++) {
            size_t start = b->n ? b->n + 1 : 0;
            switch (below(5)) {
            case 0:
                putsp(b, ANY(fr_adv));
                put(b, ",");
                fr_person(b);
                putsp(b, pick(&L_fr_verb));
                fr_np(b, 1, 1, NULL);
                putsp(b, chance(0.5) ? "dans" : "de");
                fr_np(b, 1, 1, NULL);
                break;
            case 1:
                putsp(b, "un");
                putsp(b, ANY(fr_genre));
                putsp(b, "sur");
                fr_np(b, 1, 1, NULL);
                putsp(b, "et");
                fr_np(b, 1, 1, NULL);
                break;
            case 2:
                fr_np(b, 1, 0, NULL);
                putsp(b, pick(&L_fr_verb));
                fr_np(b, 0, 1, NULL);
                putsp(b, "à");
                putsp(b, pick(&L_fr_place));
                break;
            case 3:
                putsp(b, "entre");
                putsp(b, pick(&L_fr_nm));
                putsp(b, "et");
                putsp(b, pick(&L_fr_nf));
                put(b, ",");
                fr_person(b);
                putsp(b, pick(&L_fr_verb));
                fr_np(b, 1, 1, NULL);
                break;
            default:
                putsp(b, "dans « ");
                put(b, title);
                put(b, " »,");
                fr_person(b);
                putsp(b, pick(&L_fr_verb));
                fr_np(b, 1, 1, NULL);
                putsp(b, "de");
                made_up(b, 0);
                break;
            }
            put(b, ".");
            if (start < b->n)
                upper_at(b->s + start);
        }
    } else if (!strcmp(lang, "en")) {
        for (int i = 0; i < n; i++) {
            size_t start = b->n ? b->n + 1 : 0;
            switch (below(5)) {
            case 0:
                putsp(b, ANY(en_adv));
                put(b, ",");
                en_person(b);
                putsp(b, pick(&L_en_verb));
                en_np(b, 1);
                putsp(b, "of");
                en_np(b, 1);
                break;
            case 1:
                putsp(b, "a");
                putsp(b, pick(&L_en_adj));
                putsp(b, ANY(en_genre));
                putsp(b, "about");
                en_np(b, 1);
                putsp(b, "and");
                en_np(b, 1);
                break;
            case 2:
                en_np(b, 1);
                putsp(b, pick(&L_en_verb));
                en_np(b, 0);
                putsp(b, "in");
                putsp(b, pick(&L_en_place));
                break;
            case 3:
                putsp(b, "between");
                putsp(b, pick(&L_en_noun));
                putsp(b, "and");
                putsp(b, pick(&L_en_noun));
                put(b, ",");
                en_person(b);
                putsp(b, pick(&L_en_verb));
                en_np(b, 1);
                break;
            default:
                putsp(b, "in");
                putsp(b, title);
                put(b, ",");
                en_person(b);
                putsp(b, pick(&L_en_verb));
                en_np(b, 1);
                putsp(b, "of");
                made_up(b, 1);
                break;
            }
            put(b, ".");
            if (start < b->n)
                upper_at(b->s + start);
        }
    } else {
        const char *const *w = !strcmp(lang, "es") ? es_word : de_word;
        struct list *nl = !strcmp(lang, "es") ? &L_es_noun : &L_de_noun;
        int words = between(12, 30);
        for (int i = 0; i < words; i++)
            putsp(b, chance(0.4) ? pick(nl) : w[below(25)]); /* es_word and de_word: 25 each */
        put(b, ".");
        upper_at(b->s);
    }
}

/* ---------------------------------------------------------------- one row */

static void out_field(const char *s, char sep)
{
    /* COPY text format: our strings hold no tab, newline or backslash */
    fputs(s, stdout);
    putchar(sep);
}

static void creator(struct buf *json, struct buf *names, const char *name, const char *role)
{
    if (json->n > 1)
        put(json, ", ");
    put(json, "{\"name\": \"");
    put(json, name);
    put(json, "\", \"role\": \"");
    put(json, role);
    put(json, "\"}");
    putsp(names, name);
}

static void person_for(struct buf *b, const char *lang)
{
    reset(b);
    if (!strcmp(lang, "fr"))
        fr_person(b);
    else if (!strcmp(lang, "en"))
        en_person(b);
    else if (!strcmp(lang, "de")) {
        putsp(b, ANY(de_first));
        putsp(b, ANY(de_last));
    } else {
        putsp(b, ANY(es_first));
        putsp(b, ANY(es_last));
        if (chance(0.5))
            putsp(b, ANY(es_last));
    }
}

struct edition {
    int work, no;
};

static struct edition *editions;
static int n_editions;

static void row(long long i, long long n_rows)
{
    static struct buf title, creators, names, desc, subj, person;
    reset(&title);
    reset(&creators);
    reset(&names);
    reset(&desc);
    reset(&subj);
    put(&creators, "[");

    /* Which row is a real work: evenly spread, the same whatever the sharding */
    long long stride = n_rows / (n_editions + 1);
    if (stride < 1)
        stride = 1;
    const struct work *w = NULL;
    int edition_no = 0;
    if (i % stride == stride / 2 && i / stride < n_editions) {
        w = &works[editions[i / stride].work];
        edition_no = editions[i / stride].no;
    }

    const char *kind, *lang, *publisher, *media_type, *ext;
    double u = unit();
    kind = u < 0.80 ? "ebook" : u < 0.94 ? "audio" : "video";
    u = unit();
    lang = u < 0.55 ? "fr" : u < 0.93 ? "en" : u < 0.97 ? "de" : "es";
    int music = 0;
    char year[48];

    if (w) {
        lang = w->lang;
        kind = edition_no < 2 ? "ebook" : edition_no == 2 ? "audio" : edition_no == 5 ? "video" : "ebook";
        put(&title, w->title);
        if (edition_no >= 3 && !strcmp(kind, "ebook"))
            put(&title, !strcmp(lang, "fr") ? (edition_no & 1 ? " (édition intégrale)" : " - texte intégral")
                                            : (edition_no & 1 ? " (Illustrated)" : ": Annotated Edition"));
        creator(&creators, &names, w->author, "aut");
        if (!strcmp(kind, "audio")) {
            person_for(&person, lang);
            creator(&creators, &names, person.s, "nrt");
        } else if (!strcmp(kind, "video")) {
            person_for(&person, lang);
            creator(&creators, &names, person.s, "drt");
        }
        snprintf(year, sizeof year, "%s", edition_no == 0 ? w->year : "");
        put(&subj, "{\"");
        put(&subj, w->subject);
        put(&subj, "\",\"");
        put(&subj, !strcmp(lang, "fr") ? "Classiques" : "Classics");
        put(&subj, "\"}");
    } else {
        if (!strcmp(kind, "audio") && chance(0.4)) {
            music = 1;
            if (chance(0.6)) { /* classical */
                const char *c = ANY(composer);
                put(&title, ANY(music_work));
                if (chance(0.3)) {
                    put(&title, " - ");
                    put(&title, c);
                }
                creator(&creators, &names, ANY(performer), "prf");
                creator(&creators, &names, c, "cmp");
            } else {
                if (!strcmp(lang, "fr") || !strcmp(lang, "en")) {
                    if (!strcmp(lang, "fr"))
                        fr_title(&title);
                    else
                        en_title(&title);
                } else
                    other_title(&title, !strcmp(lang, "es"));
                if (chance(0.2))
                    put(&title, !strcmp(lang, "fr") ? " (live à l'Olympia)" : " (Live)");
                person_for(&person, lang);
                creator(&creators, &names, person.s, "prf");
            }
        } else {
            if (!strcmp(lang, "fr"))
                fr_title(&title);
            else if (!strcmp(lang, "en"))
                en_title(&title);
            else
                other_title(&title, !strcmp(lang, "es"));
            if (chance(0.06)) { /* series */
                char t[32];
                snprintf(t, sizeof t, !strcmp(lang, "fr") ? " - Tome %d" : !strcmp(lang, "en") ? ", Book %d" : " %d",
                         between(1, 9));
                put(&title, t);
            }
            int authors = chance(0.12) ? 2 : 1;
            for (int a = 0; a < authors; a++) {
                person_for(&person, lang);
                creator(&creators, &names, person.s, !strcmp(kind, "video") ? "drt" : "aut");
            }
            if (!strcmp(kind, "audio")) {
                person_for(&person, lang);
                creator(&creators, &names, person.s, "nrt");
            } else if (!strcmp(kind, "ebook") && chance(0.08)) {
                person_for(&person, chance(0.5) ? "fr" : "en");
                creator(&creators, &names, person.s, chance(0.5) ? "trl" : "ill");
            }
        }
        int y = chance(0.1) ? between(1900, 1999) : between(2000, 2025);
        if (chance(0.6))
            snprintf(year, sizeof year, "%d", y);
        else if (chance(0.5))
            snprintf(year, sizeof year, "%d-%02d-%02d", y, between(1, 12), between(1, 28));
        else
            year[0] = 0;
        put(&subj, "{");
        int ns = between(music || !strcmp(kind, "video") ? 1 : 0, 3);
        for (int s = 0; s < ns; s++) {
            if (s)
                put(&subj, ",");
            put(&subj, "\"");
            if (music)
                put(&subj, ANY(music_subject));
            else if (!strcmp(kind, "video"))
                put(&subj, ANY(film_subject));
            else
                put(&subj, !strcmp(lang, "fr") ? pick(&L_fr_subj) : pick(&L_en_subj));
            put(&subj, "\"");
        }
        put(&subj, "}");
    }
    put(&creators, "]");

    if (!strcmp(lang, "fr"))
        publisher = pick(&L_fr_pub);
    else if (!strcmp(lang, "en"))
        publisher = pick(&L_en_pub);
    else if (!strcmp(lang, "de"))
        publisher = ANY(de_publisher);
    else
        publisher = ANY(es_publisher);
    if (!strcmp(kind, "ebook"))
        media_type = "application/epub+zip", ext = "epub";
    else if (!strcmp(kind, "audio")) {
        u = unit();
        media_type = u < 0.6 ? "audio/mpeg" : u < 0.9 ? "audio/mp4" : "audio/flac";
        ext = u < 0.6 ? "mp3" : u < 0.9 ? "m4a" : "flac";
    } else {
        media_type = chance(0.8) ? "video/mp4" : "video/webm";
        ext = media_type[6] == 'm' ? "mp4" : "webm";
    }

    if (music ? chance(0.3) : chance(0.85))
        description(&desc, lang, title.s);

    /* Language tags: mostly bare, a few regional */
    const char *tag = lang;
    u = unit();
    if (!strcmp(lang, "fr") && u < 0.04)
        tag = u < 0.03 ? "fr-CA" : "fr-BE";
    else if (!strcmp(lang, "en") && u < 0.05)
        tag = u < 0.03 ? "en-GB" : "en-US";

    /* unique file hash: the row number through a bijection, then more bits */
    char sha[65];
    uint64_t h0 = mix64((uint64_t)i ^ 0x5bd1e995ULL);
    snprintf(sha, sizeof sha, "%016llx%016llx%016llx%016llx", (unsigned long long)h0,
             (unsigned long long)mix64(h0 + 1), (unsigned long long)mix64(h0 + 2), (unsigned long long)mix64(h0 + 3));
    char path[128];
    snprintf(path, sizeof path, "files/%.2s/%s.%s", sha, sha, ext);

    long long size;
    double duration = 0;
    if (!strcmp(kind, "ebook"))
        size = 60000 + (long long)(unit() * unit() * 12e6);
    else if (!strcmp(kind, "audio")) {
        duration = music ? between(1500, 4800) + unit() : between(3600, 60000) + unit();
        size = (long long)(duration * (ext[0] == 'f' ? 110000 : 16000));
    } else {
        duration = between(600, 10800) + unit();
        size = (long long)(duration * between(150000, 600000));
    }

    /* created between 2014-01-01 and 2025-06-30 */
    long long secs = (long long)(unit() * (11.5 * 365.25 * 86400));
    int days = (int)(secs / 86400), rem = (int)(secs % 86400);
    int yy = 2014, mm = 1;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (;;) {
        int leap = (yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0;
        int yd = 365 + leap;
        if (days < yd)
            break;
        days -= yd;
        yy++;
    }
    for (;;) {
        int leap = (yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0;
        int md = mdays[mm - 1] + (mm == 2 && leap);
        if (days < md)
            break;
        days -= md;
        mm++;
    }
    char created[64];
    snprintf(created, sizeof created, "%04d-%02d-%02d %02d:%02d:%02d+00", yy, mm, days + 1, rem / 3600,
             rem / 60 % 60, rem % 60);

    char num[64];
    out_field(kind, '\t');
    out_field(title.s, '\t');
    out_field(creators.s, '\t');
    out_field(names.s, '\t');
    out_field(tag, '\t');
    out_field(publisher, '\t');
    out_field(year[0] ? year : "\\N", '\t');
    out_field(desc.n ? desc.s : "\\N", '\t');
    out_field(subj.s, '\t');
    out_field(sha, '\t');
    out_field(path, '\t');
    snprintf(num, sizeof num, "%lld", size > 0 ? size : 1);
    out_field(num, '\t');
    out_field(media_type, '\t');
    if (duration > 0)
        snprintf(num, sizeof num, "%.3f", duration);
    out_field(duration > 0 ? num : "\\N", '\t');
    out_field(created, '\n');
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gen_titles N [SEED [SHARD NSHARDS]]\n");
        return 2;
    }
    long long n = atoll(argv[1]);
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 42;
    long long shard = argc > 4 ? atoll(argv[3]) : 0, shards = argc > 4 ? atoll(argv[4]) : 1;
    if (n < 1 || shards < 1 || shard < 0 || shard >= shards) {
        fprintf(stderr, "gen_titles: bad arguments\n");
        return 2;
    }
    for (size_t k = 0; k < N_OF(works); k++)
        n_editions += works[k].editions;
    editions = malloc(sizeof *editions * (size_t)n_editions);
    if (!editions)
        return 1;
    /* interleave works so each stretch of rows has a mix */
    int e = 0;
    for (int no = 0; no < 16; no++)
        for (size_t k = 0; k < N_OF(works); k++)
            if (no < works[k].editions)
                editions[e++] = (struct edition){(int)k, no};
    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    for (long long i = shard; i < n; i += shards) {
        rng = mix64(seed * 0x2545f4914f6cdd1dULL + (uint64_t)i);
        row(i, n);
    }
    if (fflush(stdout) != 0) {
        perror("gen_titles");
        return 1;
    }
    return 0;
}
