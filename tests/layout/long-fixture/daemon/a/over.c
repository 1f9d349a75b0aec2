/* SPDX-License-Identifier: GPL-3.0-or-later */
int over_1(void);
int over_2(void);
int over_3(void);
int over_4(void);
int over_5(void);
int over_6(void);
int over_7(void);
int over_8(void);
int over_9(void);
int over_10(void);
